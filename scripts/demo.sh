#!/usr/bin/env bash
# The demo: a small plant on 127.0.0.1, run by one `sluice run`.
#   - the XP hall: four Windows XP press PCs, each its own Samba server limited to SMB1 (NT1) on
#     127.0.0.1:4461…4464, each rewriting its log in place every few seconds (Windows-1252, ';',
#     decimal comma, dd/MM/yyyy, CRLF);
#   - the Linux machine: an OpenSSH sshd on 127.0.0.1:2222 whose CSV grows;
#   - PostgreSQL on 127.0.0.1:55432: press_readings and line_readings, partitioned by day.
# Sluice loads them as they are written (connectors.d/), serves the status page and /metrics,
# and keeps running until Ctrl-C (or DEMO_SECONDS, for an unattended run), which stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
HALL=(press1 press2 press3 press4)
bash scripts/pg-start.sh >/dev/null
bash scripts/smb-start.sh "${HALL[@]}" >/dev/null
bash scripts/ssh-start.sh main >/dev/null
SMB_BASE="${SLUICE_SMB_DIR:-/tmp/sluice-test-smb}"
LINUX="${SLUICE_SSH_DIR:-/tmp/sluice-test-ssh}/data/linux-line"   # the Linux machine's disk, as sshd serves it
LISTEN="${SLUICE_DEMO_LISTEN:-127.0.0.1:9430}"
echo testpw > examples/xp-press/share.pw
export PGPASSWORD=testpw
PSQL=(psql "postgresql://postgres@127.0.0.1:55432/postgres" -X -q -v ON_ERROR_STOP=1)
swift build -c release --product sluice --static-swift-stdlib
SLUICE=$PWD/.build/release/sluice
export SLUICE_STATE_DIR="$PWD/examples/xp-press/state"

# A fresh plant: no logs, no state, no tables.
rm -rf "$SLUICE_STATE_DIR" "$LINUX" examples/xp-press/lake examples/xp-press/archive examples/xp-press/backups
for v in "${HALL[@]}"; do rm -rf "$SMB_BASE/$v/logs/xp-press"; done
"${PSQL[@]}" -c "DROP TABLE IF EXISTS press_readings, line_readings CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline LIKE 'xp-press%' OR pipeline = 'linux-line'" 2>/dev/null || true

echo "== the pipeline files"
$SLUICE validate --config-dir connectors.d
$SLUICE list --config-dir connectors.d

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo; echo "== stopping: the machines stop writing; sluice finishes its batches and commits"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${daemon:-}" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "== in PostgreSQL now:"
  "${PSQL[@]}" -c "SELECT host, count(*) AS rows, max(ts) AS newest FROM press_readings GROUP BY host ORDER BY host" 2>/dev/null || true
  "${PSQL[@]}" -c "SELECT count(*) AS linux_rows FROM line_readings" 2>/dev/null || true
  echo "Servers are still up for a look (scripts/pg-stop.sh, scripts/smb-stop.sh ${HALL[*]}, scripts/ssh-stop.sh stop them)."
}
trap stop_all INT TERM EXIT

echo; echo "== the machines start writing"
for i in 1 2 3 4; do
  # Each press PC rewrites its whole log with 15 more rows every 5 s, as XP machines do.
  $SLUICE simulate --out "$SMB_BASE/press$i/logs/xp-press" --style xp --machines 1 --first "$i" --seed "$i" \
    --rows 15 --ticks 100000 --interval 5 --mode rewrite >/dev/null &
  pids+=($!)
done
$SLUICE simulate --out "$LINUX" --style linux --machines 1 --rows 40 --ticks 100000 --interval 5 >/dev/null &
pids+=($!)
sleep 1

echo; echo "== sluice run: every pipeline and job on its schedule (logfmt logs below)"
$SLUICE run --config-dir connectors.d --listen "$LISTEN" --log-format logfmt &
daemon=$!
for _ in $(seq 1 100); do [ -s "$SLUICE_STATE_DIR/.daemon/http-address" ] && break; sleep 0.1; done
cat <<EOF

  Status page:  http://$LISTEN/            (every press of the hall, the Linux line, the jobs)
  Metrics:      http://$LISTEN/metrics     ready: http://$LISTEN/ready
  PostgreSQL:   PGPASSWORD=testpw psql postgresql://postgres@127.0.0.1:55432/postgres \\
                  -c "SELECT host, count(*), max(ts) FROM press_readings GROUP BY host ORDER BY host"
  A press PC hangs:   kill -STOP \$(pgrep -f 'press2/smb.conf')   (and -CONT to wake it)
  Reload the files:   $SLUICE reload --state-dir $SLUICE_STATE_DIR

  Ctrl-C stops the machines and sluice.

EOF
if [ -n "${DEMO_SECONDS:-}" ]; then
  sleep "$DEMO_SECONDS"
  stop_all
  exit 0
fi
wait "$daemon"
