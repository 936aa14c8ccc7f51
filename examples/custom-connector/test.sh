#!/usr/bin/env bash
# Builds this package against the checkout two folders up and runs its tests: the Modbus source
# against plc.py (pymodbus) on 127.0.0.1, the record-source conformance check, the plant's own
# sluice killed mid-run. Then checks the claim of the split: modbus-poll, built on ConnectorKit
# and CoreConnectors only, links no libpq or libssh2 and carries no libsmbclient loader (sluice
# opens libsmbclient with dlopen when an SMB source first connects, so ldd cannot show it).
set -euo pipefail
cd "$(dirname "$0")"
export SLUICE_TEST_PYTHON=${SLUICE_TEST_PYTHON:-$(bash ../../scripts/py-env.sh | tail -1)}
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
linked=$(ldd .build/debug/modbus-poll | grep -E 'libpq|libsmbclient|libssh2' || true)
if [[ -n "$linked" ]]; then
  echo "modbus-poll links a C library it does not need:" >&2
  echo "$linked" >&2
  exit 1
fi
if grep -qa sluice_smbc_load .build/debug/modbus-poll; then
  echo "modbus-poll carries the libsmbclient loader it does not need" >&2
  exit 1
fi
# ldd's output is taken whole first: under pipefail, `ldd | grep -q` fails at random when grep
# quits at its match and ldd, still writing, dies of SIGPIPE (CI failed one stop this way).
plant_libraries=$(ldd .build/debug/plant-sluice)
for lib in libpq libssh2; do
  grep -q "$lib" <<<"$plant_libraries" || { echo "plant-sluice should carry the built-in $lib connector" >&2; exit 1; }
done
grep -qa sluice_smbc_load .build/debug/plant-sluice \
  || { echo "plant-sluice should carry the built-in SMB connector (its libsmbclient loader)" >&2; exit 1; }
echo "modbus-poll links neither libpq nor libssh2 and has no libsmbclient loader; plant-sluice has all three"
