#!/usr/bin/env bash
# Fuzzes the parsers of outside input with libFuzzer and AddressSanitizer: the CSV decoder, the log
# decoder (regex and key=value), the schema casts, the pipeline-file loader and the Parquet reader.
#
#   bash scripts/fuzz.sh              # every target for $FUZZ_SECONDS (default 30) each
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh csv   # one target, one hour
#
# Seeds are in Tests/Fuzz/corpus/<target>; what the fuzzer adds goes to a work corpus in
# .build-fuzz/corpus/<target> (kept between runs). A crash stops the run: its input is saved as
# .build-fuzz/crash-<target>-*; turn it into a regression test (Tests/ConnectorsTests/FuzzRegressionTests.swift).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh >/dev/null
SECONDS_EACH=${FUZZ_SECONDS:-30}
TARGETS=("$@"); [ ${#TARGETS[@]} -eq 0 ] && TARGETS=(csv log-regex log-kv schema pipeline parquet)
BUILD="$PWD/.build-fuzz"
mkdir -p "$BUILD"
( cd Tests/Fuzz && swift build -c debug --build-path "$BUILD/build" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld \
    -Xswiftc -Onone 2>&1 | grep -E "error|warning: unre|Compiling SluiceFuzz|Build complete" || true )
BIN=$(cd Tests/Fuzz && swift build -c debug --build-path "$BUILD/build" --show-bin-path)/SluiceFuzz
[ -x "$BIN" ] || { echo "error: the fuzz binary did not build" >&2; exit 1; }
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/corpus/$t"
  echo "== fuzzing $t for ${SECONDS_EACH}s"
  if ! SLUICE_FUZZ_TARGET="$t" LSAN_OPTIONS="suppressions=$PWD/Tests/Fuzz/lsan-suppressions.txt" "$BIN" "$BUILD/corpus/$t" "Tests/Fuzz/corpus/$t" -max_total_time="$SECONDS_EACH" \
      -max_len=4096 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$BUILD/crash-$t-" 2> "$BUILD/$t.log"; then
    status=1
    echo "FAILED: $t (log: $BUILD/$t.log)"; grep -E "ERROR|SUMMARY|Fatal|precondition|==[0-9]+==" "$BUILD/$t.log" | head -20
  else
    grep -E "^stat::number_of_executed_units|^stat::new_units_added|Done [0-9]+ runs" "$BUILD/$t.log" | tr '\n' ' '; echo
  fi
done
exit $status
