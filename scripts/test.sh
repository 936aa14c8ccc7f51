#!/usr/bin/env bash
# Sets up and runs the whole test suite (unit, CLI end to end, SIGKILL/SIGTERM exactly-once).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The crash tests drive the release binary, as users run it.
swift build -c release --product sluice
export SLUICE_BIN="$PWD/.build/release/sluice"
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
