#!/usr/bin/env bash
# The demo: simulated Windows XP press PCs rewrite their logs in place on an SMB1-only share (a
# Samba XP stand-in on 127.0.0.1:4451); Sluice pulls only the new lines, typed and in UTC, into a day-partitioned PostgreSQL table (a throwaway server on
# 127.0.0.1:55432), with bad records in a dead-letter file; then the fleet example upserts a
# vehicle table and appends its maintenance records.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
bash scripts/pg-start.sh >/dev/null
bash scripts/smb-start.sh nt1 >/dev/null
bash scripts/ssh-start.sh main >/dev/null
LINUX="${SLUICE_SSH_DIR:-/tmp/sluice-test-ssh}/data/linux-line"   # the Linux machine's disk, as sshd serves it
SHARE="${SLUICE_SMB_DIR:-/tmp/sluice-test-smb}/nt1/logs/xp-press"   # the XP machines' disk, as the share serves it
echo testpw > examples/xp-press/share.pw
export PGPASSWORD=testpw
PSQL=(psql "postgresql://postgres@127.0.0.1:55432/postgres" -X -q -v ON_ERROR_STOP=1)
swift build -c release --product sluice --static-swift-stdlib
SLUICE=.build/release/sluice
export SLUICE_STATE_DIR="$PWD/examples/xp-press/state"
rm -rf "$SHARE" "$SLUICE_STATE_DIR"
rm -rf "$LINUX"
"${PSQL[@]}" -c "DROP TABLE IF EXISTS press_readings, line_readings CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline IN ('xp-press', 'linux-line')" 2>/dev/null || true

echo "== validate the shipped pipeline files"
$SLUICE validate --config-dir connectors.d
$SLUICE list --config-dir connectors.d

echo; echo "== 3 XP machines write 500 rows each on their SMB1 share (Windows-1252, ';', decimal comma, dd/MM/yyyy, CRLF)"
$SLUICE simulate --out "$SHARE" --style xp --machines 3 --rows 500 --mode rewrite
$SLUICE once xp-press --config-dir connectors.d

echo; echo "== 5 minutes later: each machine rewrote its whole file with 20 more rows; only those load"
$SLUICE simulate --out "$SHARE" --style xp --machines 3 --rows 520 --mode rewrite
$SLUICE once xp-press --config-dir connectors.d

echo; echo "== a machine writes a broken line; it goes to the dead-letter file, the rest loads"
printf '31/02/2025 99:99:99;press-01;quente;1,0;OK;Ana\r\n' >> "$SHARE/press-01/log.txt"
$SLUICE simulate --out "$SHARE" --style xp --machines 3 --rows 530 --mode append >/dev/null
$SLUICE once xp-press --config-dir connectors.d || true

echo; echo "== PostgreSQL: press_readings, partitioned by day (3 machines × 530 rows, one broken line refused)"
"${PSQL[@]}" -c "SELECT tableoid::regclass AS partition, count(*) AS rows, min(ts) AS first, max(ts) AS last FROM press_readings GROUP BY 1 ORDER BY 1"
"${PSQL[@]}" -c "SELECT ts, machine, temperature, pressure, status, operator FROM press_readings ORDER BY ts, machine LIMIT 3"
echo "== dead letters:"
cat "$SLUICE_STATE_DIR/xp-press/dead-letter.jsonl"

echo; echo "== a Linux machine appends to data.csv; Sluice pulls only the new bytes over SFTP (host key checked)"
$SLUICE simulate --out "$LINUX" --style linux --machines 1 --rows 2000
$SLUICE once linux-line --config-dir connectors.d
$SLUICE simulate --out "$LINUX" --style linux --machines 1 --rows 2100 >/dev/null
$SLUICE once linux-line --config-dir connectors.d
"${PSQL[@]}" -c "SELECT count(*) AS rows, min(\"timestamp\") AS first, max(\"timestamp\") AS last FROM line_readings"

echo; echo "== the 23:30 job, run by hand: partitions ahead for every partitioned table"
$SLUICE once partition-maintenance --config-dir connectors.d

echo; echo "== the same XP machines into the data lake: Parquet files per day, written by Sluice itself"
$SLUICE once xp-press-lake --config-dir connectors.d
find examples/xp-press/lake/press -name '*.parquet' | sort | head -5
first=$(find examples/xp-press/lake/press -name '*.parquet' | sort | head -1)
$SLUICE parquet inspect "$first" | head -16
$SLUICE parquet cat --limit 2 "$first"

echo; echo "== the quarterly archive: day partitions that ended 90+ days ago → verified Parquet → dropped"
$SLUICE once xp-press-archive --config-dir connectors.d
head -c 600 examples/xp-press/archive/press_readings/manifest.jsonl 2>/dev/null; echo
"${PSQL[@]}" -c "SELECT count(*) AS partitions_left FROM pg_inherits WHERE inhparent = 'press_readings'::regclass"

echo; echo "== fleet example: vehicles upserted by plate, maintenance records appended (FK to vehicles)"
bash examples/fleet/run.sh
