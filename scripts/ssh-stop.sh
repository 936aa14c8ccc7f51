#!/usr/bin/env bash
# Stops the throwaway sshd servers of ssh-start.sh (default: all). Keys and data are kept.
set -euo pipefail
BASE=${SLUICE_SSH_DIR:-/tmp/sluice-test-ssh}
VARIANTS=("$@"); [ ${#VARIANTS[@]} -eq 0 ] && VARIANTS=(main rsaonly spare)
for v in "${VARIANTS[@]}"; do
  D="$BASE/$v"
  [ -f "$D/sshd.pid" ] && kill "$(cat "$D/sshd.pid")" 2>/dev/null || true
  pkill -f -- "-f $D/sshd_config" 2>/dev/null || true
  for _ in $(seq 1 50); do pgrep -f -- "-f $D/sshd_config" >/dev/null || break; sleep 0.1; done
  rm -f "$D/sshd.pid"
done
