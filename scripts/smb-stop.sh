#!/usr/bin/env bash
# Stops the throwaway Samba servers of smb-start.sh (default: both), and the helper processes
# (samba-dcerpcd, rpcd_*) smbd starts on demand, which outlive it in their own session.
# Their folders are kept, so a stop followed by a start serves the same files.
set -euo pipefail
BASE=${SLUICE_SMB_DIR:-/tmp/sluice-test-smb}
VARIANTS=("$@"); [ ${#VARIANTS[@]} -eq 0 ] && VARIANTS=(nt1 smb3)
for v in "${VARIANTS[@]}"; do
  D="$BASE/$v"
  [ -f "$D/smbd.pid" ] && kill "$(cat "$D/smbd.pid")" 2>/dev/null || true
  pkill -f -- "--configfile=$D/smb.conf" 2>/dev/null || true
  for _ in $(seq 1 50); do pgrep -f -- "--configfile=$D/smb.conf" >/dev/null || break; sleep 0.1; done
  pkill -9 -f -- "--configfile=$D/smb.conf" 2>/dev/null || true
  rm -f "$D/smbd.pid"
done
