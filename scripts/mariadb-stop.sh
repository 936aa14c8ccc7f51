#!/usr/bin/env bash
# Stops the MariaDB scripts/mariadb-start.sh started and removes its data.
set -euo pipefail
D=${SLUICE_MARIADB_DIR:-/tmp/sluice-test-mariadb}
export PATH="/usr/sbin:$PATH"
if [ -S "$D/sock" ]; then
  mariadb-admin --no-defaults --socket="$D/sock" -u root shutdown >/dev/null 2>&1 || true
fi
if [ -f "$D/mariadbd.pid" ]; then kill -9 "$(cat "$D/mariadbd.pid")" 2>/dev/null || true; fi
rm -rf "$D"
