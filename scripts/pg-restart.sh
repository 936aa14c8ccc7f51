#!/usr/bin/env bash
# Restarts the throwaway PostgreSQL, keeping its data: stop with mode $2 (default immediate: a
# crash; fast: a clean restart that ends every session), stay down for $1 seconds (default 0),
# start again with the same options. For the restart-during-load tests.
set -euo pipefail
D=${SLUICE_PG_DIR:-/tmp/sluice-test-pg}
PORT=${SLUICE_PG_PORT:-55432}
DOWN=${1:-0}
MODE=${2:-immediate}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# The server outlives this script: it must not inherit the caller's descriptors (a test harness
# waiting for EOF on a pipe would otherwise wait for the server to exit).
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true; done
as_pg "$PGBIN/pg_ctl" -D "$D/data" -m "$MODE" -w stop >/dev/null
sleep "$DOWN"
as_pg "$PGBIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 30 \
  -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$D/sock -c fsync=off -c max_connections=200 -c max_prepared_transactions=64" start >/dev/null
