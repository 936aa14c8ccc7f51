#!/usr/bin/env bash
# Starts the throwaway Samba servers for tests and the demo, on 127.0.0.1 only (never another
# address), each with its own configuration under $SLUICE_SMB_DIR (default /tmp/sluice-test-smb),
# never touching /etc/samba:
#   nt1   port 4451  SMB1 (NT1) only: a Windows XP stand-in
#   smb3  port 4453  SMB3 only: a modern share
#   spare port 4455  SMB3 only, started on demand: tests that stop and restart a server use it
#   pressN port 4460+N (N = 1…40)  SMB1 (NT1) only, started on demand: one XP press PC each,
#                    a hall of them for multi-host pipelines (the demo, tests, bench daemon)
# Each has [logs] (user sluicetest, password testpw, writable) and [public] (guest, read-only).
# Share folders: $SLUICE_SMB_DIR/<variant>/logs and .../public, writable by the caller.
# Usage: smb-start.sh [nt1|smb3 ...]   (default: both). Idempotent: a running server is kept.
set -euo pipefail
BASE=${SLUICE_SMB_DIR:-/tmp/sluice-test-smb}
VARIANTS=("$@"); [ ${#VARIANTS[@]} -eq 0 ] && VARIANTS=(nt1 smb3)
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
[ -x /usr/sbin/smbd ] || { echo "error: smbd not found (apt-get install samba)" >&2; exit 1; }
# smbd outlives this script: it must not inherit the caller's descriptors (a test harness waiting
# for EOF on a pipe, or Foundation's Process waiting for its socket, would wait for smbd to exit).
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true; done

id sluicetest >/dev/null 2>&1 || $SUDO useradd --no-create-home --shell /usr/sbin/nologin sluicetest

port_of() {
  case "$1" in
    nt1) echo 4451 ;; smb3) echo 4453 ;; spare) echo 4455 ;;
    press[0-9]|press[1-3][0-9]|press40) echo $((4460 + 10#${1#press})) ;;
    *) echo "error: unknown variant $1 (nt1, smb3, spare or press1…press40)" >&2; exit 2 ;;
  esac
}

listening() { ss -ltn "sport = :$1" 2>/dev/null | grep LISTEN >/dev/null; }

for v in "${VARIANTS[@]}"; do
  PORT=$(port_of "$v")
  D="$BASE/$v"
  if [ -f "$D/smbd.pid" ] && kill -0 "$(cat "$D/smbd.pid")" 2>/dev/null && listening "$PORT"; then
    echo "smb://127.0.0.1:$PORT"
    continue
  fi
  mkdir -p "$D"/{private,lock,state,cache,pid,ncalrpc,log} "$D/logs" "$D/public"
  chmod 0777 "$D/logs"; chmod 0755 "$D/public" "$D" "$BASE"
  case "$v" in
    nt1|press*) PROTO="server min protocol = NT1
   server max protocol = NT1
   # Samba 4.17's SMB1 server crashed at disconnect after reads in ~20% of runs with aio on.
   aio read size = 0
   aio write size = 0" ;;
    smb3|spare) PROTO="server min protocol = SMB3
   server max protocol = SMB3" ;;
  esac
  cat > "$D/smb.conf" <<CONF
[global]
   interfaces = 127.0.0.1
   bind interfaces only = yes
   smb ports = $PORT
   disable netbios = yes
   workgroup = PLANT
   server role = standalone server
   map to guest = Bad User
   guest account = nobody
   passdb backend = tdbsam:$D/private/passdb.tdb
   private dir = $D/private
   lock directory = $D/lock
   state directory = $D/state
   cache directory = $D/cache
   pid directory = $D/pid
   ncalrpc dir = $D/ncalrpc
   log file = $D/log/log.%m
   max log size = 1000
   load printers = no
   printing = bsd
   printcap name = /dev/null
   disable spoolss = yes
   unix extensions = no
   $PROTO
[logs]
   path = $D/logs
   valid users = sluicetest
   read only = no
   create mask = 0644
[public]
   path = $D/public
   guest ok = yes
   read only = yes
CONF
  printf 'testpw\ntestpw\n' | $SUDO smbpasswd -c "$D/smb.conf" -s -a sluicetest >/dev/null
  setsid nohup $SUDO /usr/sbin/smbd --foreground --no-process-group --debug-stdout --configfile="$D/smb.conf" \
    > "$D/log/smbd.stdout" 2>&1 < /dev/null &
  echo $! > "$D/smbd.pid"
  for _ in $(seq 1 100); do listening "$PORT" && break; sleep 0.1; done
  listening "$PORT" || { echo "error: smbd ($v) did not start; see $D/log/smbd.stdout" >&2; tail -20 "$D/log/smbd.stdout" >&2; exit 1; }
  echo "smb://127.0.0.1:$PORT"
done
