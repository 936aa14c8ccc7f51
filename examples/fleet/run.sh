#!/usr/bin/env bash
# The fleet example end to end against the throwaway PostgreSQL (scripts/pg-start.sh):
# export 0 of the register and 1000 maintenance records, then export 1 and 500 more records.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
SLUICE=${SLUICE:-$ROOT/.build/release/sluice}
[ -x "$SLUICE" ] || (cd "$ROOT" && swift build -c release --product sluice --static-swift-stdlib)
bash "$ROOT/scripts/pg-start.sh" >/dev/null
export PGPASSWORD=${PGPASSWORD:-testpw}
export SLUICE_STATE_DIR="$PWD/state"
psql_to() { local db=$1; shift; psql "postgresql://postgres@127.0.0.1:55432/$db" -X -q -v ON_ERROR_STOP=1 "$@"; }
PGOPTIONS="-c client_min_messages=warning" psql_to postgres -c "DROP DATABASE IF EXISTS fleet WITH (FORCE)" -c "CREATE DATABASE fleet"
psql_to fleet -f schema.sql
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
psql_to fleet -c "SELECT v.placa, v.modelo, v.km, v.status, count(m.id) AS manutencoes, sum(m.custo) AS custo_total
  FROM veiculos v LEFT JOIN manutencoes m USING (placa) GROUP BY v.placa ORDER BY custo_total DESC NULLS LAST LIMIT 5"
echo "== refused by the foreign key (dead letters):"
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print("%s:%s: %s\n    %s" % (d["file"], d["line"], d["reason"], d["raw"]))
' state/fleet-manutencoes/dead-letter.jsonl
