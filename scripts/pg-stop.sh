#!/usr/bin/env bash
# Stops the throwaway PostgreSQL started by pg-start.sh (mode: fast, or immediate with --immediate).
set -euo pipefail
D=${SLUICE_PG_DIR:-/tmp/sluice-test-pg}
MODE=fast; [ "${1:-}" = "--immediate" ] && MODE=immediate
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ -d "$D/data" ] && as_pg "$PGBIN/pg_ctl" -D "$D/data" -m "$MODE" -w stop >/dev/null 2>&1 || true
