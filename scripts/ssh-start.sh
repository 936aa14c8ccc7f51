#!/usr/bin/env bash
# Starts throwaway OpenSSH servers for tests and the demo, on 127.0.0.1 only (never another
# address), with their own host keys and configuration under $SLUICE_SSH_DIR (default
# /tmp/sluice-test-ssh), never touching /etc/ssh:
#   main     port 2222  ed25519, ECDSA and RSA host keys
#   rsaonly  port 2223  an RSA host key only (what libssh2 1.10 cannot verify with rsa-sha2)
#   spare    port 2224  like main, started on demand: tests that stop and restart a server use it
# User sluicetest (password testpw, accepted on main only) logs in with the client keys in
# $SLUICE_SSH_DIR/client: id_ed25519,
# id_ed25519_pass (passphrase "sluice-pass"), id_ecdsa and id_rsa are authorized; id_other is not.
# $SLUICE_SSH_DIR/client/known_hosts records the ed25519 host key of main and spare (as OpenSSH
# clients do), known_hosts_all every key of main. Files to read live in $SLUICE_SSH_DIR/data.
# Usage: ssh-start.sh [main|rsaonly|spare ...]   (default: main). Idempotent.
set -euo pipefail
BASE=${SLUICE_SSH_DIR:-/tmp/sluice-test-ssh}
VARIANTS=("$@"); [ ${#VARIANTS[@]} -eq 0 ] && VARIANTS=(main)
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
[ -x /usr/sbin/sshd ] || { echo "error: sshd not found (apt-get install openssh-server)" >&2; exit 1; }
# sshd outlives this script: it must not inherit the caller's descriptors.
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true; done

if ! id sluicetest >/dev/null 2>&1; then $SUDO useradd --no-create-home --shell /usr/sbin/nologin sluicetest; fi
# A new account's password is "!" (locked), and sshd refuses locked accounts even for keys. The
# password (testpw) also serves the password-login test on main.
echo 'sluicetest:testpw' | $SUDO chpasswd
mkdir -p "$BASE"/{hostkeys,client,auth,data} /run/sshd
chmod 0755 "$BASE" "$BASE/data"
chmod 0777 "$BASE/data"
[ -f "$BASE/client/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -C sluicetest -f "$BASE/client/id_ed25519"
[ -f "$BASE/client/id_ed25519_pass" ] || ssh-keygen -q -t ed25519 -N "sluice-pass" -C sluicetest-pass -f "$BASE/client/id_ed25519_pass"
[ -f "$BASE/client/id_ecdsa" ] || ssh-keygen -q -t ecdsa -b 256 -N "" -C sluicetest-ecdsa -f "$BASE/client/id_ecdsa"
[ -f "$BASE/client/id_rsa" ] || ssh-keygen -q -t rsa -b 3072 -N "" -C sluicetest-rsa -f "$BASE/client/id_rsa"
[ -f "$BASE/client/id_other" ] || ssh-keygen -q -t ed25519 -N "" -C not-authorized -f "$BASE/client/id_other"
# Files that running servers and tests read are replaced only when their content changes, and then
# atomically (write beside, rename): a second start (the spare server, mid-suite) must never show
# a half-written key list to a login in progress.
put() { # put FILE MODE < content
  local tmp; tmp=$(mktemp "$1.XXXXXX"); cat > "$tmp"; chmod "$2" "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}
cat "$BASE/client/id_ed25519.pub" "$BASE/client/id_ed25519_pass.pub" "$BASE/client/id_ecdsa.pub" "$BASE/client/id_rsa.pub" | put "$BASE/auth/sluicetest" 0644
for t in ed25519 ecdsa rsa; do
  [ -f "$BASE/hostkeys/ssh_host_${t}_key" ] || ssh-keygen -q -t "$t" -N "" -C "sluice-test-host" -f "$BASE/hostkeys/ssh_host_${t}_key"
done

port_of() { case "$1" in main) echo 2222 ;; rsaonly) echo 2223 ;; spare) echo 2224 ;; *) echo "error: unknown variant $1 (main, rsaonly or spare)" >&2; exit 2 ;; esac; }
listening() { ss -ltn "sport = :$1" 2>/dev/null | grep LISTEN >/dev/null; }

# Client known_hosts: the ed25519 key only (main and spare share host keys), and every key.
key() { cut -d' ' -f1,2 "$BASE/hostkeys/ssh_host_$1_key.pub"; }
{ echo "[127.0.0.1]:2222 $(key ed25519)"; echo "[127.0.0.1]:2224 $(key ed25519)"; } | put "$BASE/client/known_hosts" 0644
{ for t in ed25519 ecdsa rsa; do echo "[127.0.0.1]:2222 $(key $t)"; done; } | put "$BASE/client/known_hosts_all" 0644
echo "[127.0.0.1]:2223 $(key rsa)" | put "$BASE/client/known_hosts_rsaonly" 0644

for v in "${VARIANTS[@]}"; do
  PORT=$(port_of "$v")
  D="$BASE/$v"
  mkdir -p "$D"
  if [ -f "$D/sshd.pid" ] && kill -0 "$(cat "$D/sshd.pid")" 2>/dev/null && listening "$PORT"; then
    echo "sftp://sluicetest@127.0.0.1:$PORT"
    continue
  fi
  KEYS=(ed25519 ecdsa rsa); [ "$v" = rsaonly ] && KEYS=(rsa)
  {
    echo "ListenAddress 127.0.0.1"
    echo "Port $PORT"
    for t in "${KEYS[@]}"; do echo "HostKey $BASE/hostkeys/ssh_host_${t}_key"; done
    echo "PidFile $D/sshd.pid"
    echo "AuthorizedKeysFile $BASE/auth/%u"
    cat <<CONF
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication $([ "$v" = main ] && echo yes || echo no)
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers sluicetest
X11Forwarding no
AllowTcpForwarding no
Subsystem sftp internal-sftp
LogLevel VERBOSE
# The suites open many connections at once (refused host keys, a daemon every 50 ms, slow
# sanitizer builds); sshd's default (10:30:100) drops some before the banner. Never on a real host.
MaxStartups 200
CONF
  } > "$D/sshd_config"
  /usr/sbin/sshd -t -f "$D/sshd_config"
  setsid nohup /usr/sbin/sshd -D -e -f "$D/sshd_config" > "$D/sshd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 100); do listening "$PORT" && break; sleep 0.1; done
  listening "$PORT" || { echo "error: sshd ($v) did not start; see $D/sshd.log" >&2; tail -20 "$D/sshd.log" >&2; exit 1; }
  echo "sftp://sluicetest@127.0.0.1:$PORT"
done
