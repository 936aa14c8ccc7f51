#!/usr/bin/env bash
# Starts a throwaway MariaDB for tests and benchmarks on 127.0.0.1 only (never another address).
# Data in $SLUICE_MARIADB_DIR (default /tmp/sluice-test-mariadb), port $SLUICE_MARIADB_PORT
# (default 53306); user sluice, password testpw, database sluice_test; LOAD DATA LOCAL allowed.
# Idempotent: an already running server is kept. Prints the connection URL on its last line.
set -euo pipefail
D=${SLUICE_MARIADB_DIR:-/tmp/sluice-test-mariadb}
PORT=${SLUICE_MARIADB_PORT:-53306}
URL="mysql://sluice:testpw@127.0.0.1:$PORT/sluice_test"
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || { echo "error: MariaDB server not found (apt-get install mariadb-server)" >&2; exit 1; }
export PATH="/usr/sbin:$PATH"
if [ -S "$D/sock" ] && mariadb-admin --no-defaults --socket="$D/sock" -u root ping >/dev/null 2>&1; then
  echo "$URL"
  exit 0
fi
# The server outlives this script: it must not inherit the caller's descriptors.
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true; done
rm -rf "$D"
mkdir -p "$D/data"
user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then user=mysql; chown -R mysql:mysql "$D"; fi
mariadb-install-db --no-defaults --datadir="$D/data" --user="$user" --auth-root-authentication-method=socket \
  --skip-test-db >"$D/install.log" 2>&1 || { cat "$D/install.log" >&2; exit 1; }
# setsid: the server is not in the caller's process group (a test's Ctrl-C must not reach it).
setsid mariadbd --no-defaults --datadir="$D/data" --user="$user" --bind-address=127.0.0.1 --port="$PORT" \
  --socket="$D/sock" --pid-file="$D/mariadbd.pid" --log-error="$D/error.log" --local-infile=1 \
  --max-connections=300 --innodb-buffer-pool-size=256M --innodb-log-file-size=256M \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_bin </dev/null >/dev/null 2>&1 &
for _ in $(seq 1 100); do
  mariadb-admin --no-defaults --socket="$D/sock" -u root ping >/dev/null 2>&1 && break
  sleep 0.2
done
mariadb-admin --no-defaults --socket="$D/sock" -u root ping >/dev/null 2>&1 || { tail -20 "$D/error.log" >&2; exit 1; }
mariadb --no-defaults --socket="$D/sock" -u root <<SQL
CREATE DATABASE IF NOT EXISTS sluice_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'sluice'@'127.0.0.1' IDENTIFIED BY 'testpw';
GRANT ALL PRIVILEGES ON *.* TO 'sluice'@'127.0.0.1';
SQL
echo "$URL"
