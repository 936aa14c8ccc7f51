#!/usr/bin/env bash
# The fleet example against the throwaway MariaDB (scripts/mariadb-start.sh): the same exports
# as ../run.sh, into MySQL tables.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../../.. && pwd)
SLUICE=${SLUICE:-$ROOT/.build/release/sluice}
[ -x "$SLUICE" ] || (cd "$ROOT" && swift build -c release --product sluice --static-swift-stdlib)
bash "$ROOT/scripts/mariadb-start.sh" >/dev/null
export FLEET_DB_PASSWORD=${FLEET_DB_PASSWORD:-testpw}
export SLUICE_STATE_DIR="$PWD/state"
db() { MYSQL_PWD=$FLEET_DB_PASSWORD mariadb --no-defaults -h 127.0.0.1 -P 53306 -u sluice "$@"; }
db -e "DROP DATABASE IF EXISTS fleet; CREATE DATABASE fleet CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
db fleet < schema.sql
rm -rf incoming state

echo "== export 0: 50 vehicles; 1000 maintenance records (4 name an unregistered plate)"
"$SLUICE" simulate --style fleet --out incoming --vehicles 50 --generation 0 --rows 1000
"$SLUICE" once fleet-veiculos --config-dir connectors.d
"$SLUICE" once fleet-manutencoes --config-dir connectors.d

echo; echo "== export 1: odometers and statuses change, 5 vehicles added; 500 more records"
"$SLUICE" simulate --style fleet --out incoming --vehicles 50 --generation 1 --rows 1500
"$SLUICE" once fleet-veiculos --config-dir connectors.d
"$SLUICE" once fleet-manutencoes --config-dir connectors.d

echo
db fleet -e "SELECT v.placa, v.modelo, v.km, v.status, count(m.id) AS manutencoes, sum(m.custo) AS custo_total
  FROM veiculos v LEFT JOIN manutencoes m USING (placa) GROUP BY v.placa ORDER BY custo_total DESC LIMIT 5"
echo "== refused by the foreign key (dead letters):"
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print("%s:%s: %s\n    %s" % (d["file"], d["line"], d["reason"], d["raw"]))
' state/fleet-manutencoes/dead-letter.jsonl
