#!/usr/bin/env bash
# The demo: simulated Windows XP press PCs rewrite their logs in place; Sluice loads only the new
# lines, typed and in UTC, into JSON lines, with bad records in a dead-letter file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product sluice
SLUICE=.build/release/sluice
export SLUICE_STATE_DIR="$PWD/examples/xp-press/state"
rm -rf examples/xp-press/incoming examples/xp-press/out "$SLUICE_STATE_DIR"

echo "== validate the shipped pipeline files"
$SLUICE validate --config-dir connectors.d
$SLUICE list --config-dir connectors.d

echo; echo "== 3 XP machines write 500 rows each (Windows-1252, ';', decimal comma, dd/MM/yyyy, CRLF)"
$SLUICE simulate --out examples/xp-press/incoming --style xp --machines 3 --rows 500 --mode rewrite
$SLUICE once xp-press --config-dir connectors.d

echo; echo "== 5 minutes later: each machine rewrote its whole file with 20 more rows"
$SLUICE simulate --out examples/xp-press/incoming --style xp --machines 3 --rows 520 --mode rewrite
$SLUICE once xp-press --config-dir connectors.d

echo; echo "== a machine writes a broken line; it goes to the dead-letter file, the rest loads"
printf '31/02/2025 99:99:99;press-01;quente;1,0;OK;Ana\r\n' >> examples/xp-press/incoming/press-01/log.txt
$SLUICE simulate --out examples/xp-press/incoming --style xp --machines 3 --rows 530 --mode append >/dev/null
$SLUICE once xp-press --config-dir connectors.d || true

echo; echo "== output: $(wc -l < examples/xp-press/out/press.jsonl) rows (3 machines × 530 lines, one of them the broken line), first two:"
head -2 examples/xp-press/out/press.jsonl
echo; echo "== dead letters:"
cat "$SLUICE_STATE_DIR/xp-press/dead-letter.jsonl"
