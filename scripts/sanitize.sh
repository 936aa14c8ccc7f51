#!/usr/bin/env bash
# Runs the unit and end-to-end tests once under a sanitizer, with the `sluice` binary they drive
# built with the same sanitizer:
#
#   bash scripts/sanitize.sh address     # AddressSanitizer (out-of-bounds, use after free)
#   bash scripts/sanitize.sh thread      # ThreadSanitizer (data races)
#
# The test servers must be running (scripts/test.sh starts them). Heavy tests shrink by
# SLUICE_TEST_SCALE_DOWN (default 10 here): an instrumented build is several times slower.
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZER=${1:?usage: sanitize.sh address|thread}
case "$SANITIZER" in address|thread) ;; *) echo "error: address or thread" >&2; exit 2 ;; esac
source scripts/setup.sh >/dev/null
BUILD=".build-$SANITIZER"
export SLUICE_TEST_SCALE_DOWN=${SLUICE_TEST_SCALE_DOWN:-10}
# The tests on the cooperative pool, not on threads of their own (Tests/TestSupport/BlockingTestThreads.swift):
# instrumented, they are CPU-bound, and eight at once on 2 cores made the ThreadSanitizer run take 1576 s with
# 854 s of it in the kernel, and starved a conformance run past its 60 s limit.
export SLUICE_TEST_THREADS=${SLUICE_TEST_THREADS:-0}
export SLUICE_TEST_PG=${SLUICE_TEST_PG:-postgresql://postgres:testpw@127.0.0.1:55432/postgres}
export SLUICE_PG_DIR=${SLUICE_PG_DIR:-/tmp/sluice-test-pg}
swift build --build-path "$BUILD" --sanitize="$SANITIZER" --build-tests
export SLUICE_BIN="$PWD/$BUILD/debug/sluice"
# ASan reports memory errors (out of bounds, use after free) and stops the run; leak reports are
# off (XCTest and the Swift runtime keep objects until exit; our resource lifetimes are checked by
# ResourceTests and the fuzzers' LeakSanitizer). TSan reports fail the run (halt_on_error).
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/Tests/Fuzz/lsan-suppressions.txt"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan-suppressions.txt"
swift test --build-path "$BUILD" --sanitize="$SANITIZER" --skip-build 2>&1 | tee "$BUILD/test-output.txt"
