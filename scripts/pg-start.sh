#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for tests and the demo on 127.0.0.1 only (never another address).
# Data in $SLUICE_PG_DIR (default /tmp/sluice-test-pg), port $SLUICE_PG_PORT (default 55432),
# user postgres, password testpw; $SLUICE_PG_OPTS adds server options (e.g. "-c lc_messages=de_DE.UTF-8"). Idempotent: an already running server is kept.
# Prints the connection URL on its last line.
set -euo pipefail
D=${SLUICE_PG_DIR:-/tmp/sluice-test-pg}
PORT=${SLUICE_PG_PORT:-55432}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "error: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -f "$D/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$D/data" status >/dev/null 2>&1; then
  echo "postgresql://postgres:testpw@127.0.0.1:$PORT/postgres"
  exit 0
fi
# The server outlives this script: it must not inherit the caller's descriptors (Foundation's
# Process on Linux waits for a socket it hands the child to close, so a test would hang).
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true; done
rm -rf "$D"
mkdir -p "$D/sock"
echo testpw > "$D/pwfile"
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$D"
as_pg "$PGBIN/initdb" -D "$D/data" -U postgres --pwfile="$D/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 >"$D/initdb.log" 2>&1 || { cat "$D/initdb.log" >&2; exit 1; }
# The test ports lie in Linux's ephemeral range, so a busy test run's client socket can hold one
# for a moment: a start refused with "Address already in use" is tried again; any other failure
# shows the server's log.
for attempt in 1 2 3 4 5; do
  if as_pg "$PGBIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$D/sock -c fsync=off -c max_connections=200 -c max_prepared_transactions=64 ${SLUICE_PG_OPTS:-}" start >/dev/null; then
    break
  fi
  tail -5 "$D/server.log" >&2
  if [ "$attempt" -eq 5 ] || ! grep -qi "already in use\|bereits verwendet" "$D/server.log"; then exit 1; fi
  echo "pg-start.sh: port $PORT is busy, trying again in 2 s" >&2
  sleep 2
done
echo "postgresql://postgres:testpw@127.0.0.1:$PORT/postgres"
