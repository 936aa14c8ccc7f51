#!/usr/bin/env bash
# Sets up and runs the whole test suite: unit tests, the CLI end to end, SIGKILL/SIGTERM
# exactly-once, faults on the wire (a TCP fault proxy), the PostgreSQL sink and the SMB and SFTP
# sources against real servers started here on 127.0.0.1 (PostgreSQL; MariaDB; Samba as an SMB1-only XP
# stand-in and as SMB3; OpenSSH sshd), Parquet files checked with pyarrow, DuckDB and
# fastparquet; then each fuzzer for 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export SLUICE_TEST_PG=$(bash scripts/pg-start.sh | tail -1)
bash scripts/smb-start.sh
bash scripts/ssh-start.sh main rsaonly
export SLUICE_TEST_MYSQL=$(bash scripts/mariadb-start.sh | tail -1)
# pyarrow, DuckDB and fastparquet read every Parquet file the tests write.
export SLUICE_TEST_PYTHON=$(bash scripts/py-env.sh | tail -1)
export SLUICE_PG_DIR=${SLUICE_PG_DIR:-/tmp/sluice-test-pg}
# The crash tests drive the release binary, as users run it (self-contained: the Swift runtime
# linked in, see BENCHMARKS.md).
swift build -c release --product sluice --static-swift-stdlib
export SLUICE_BIN="$PWD/.build/release/sluice"
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
# examples/custom-connector: an outside package with its own plugins and its own sluice.
bash examples/custom-connector/test.sh
# The parsers of outside input under libFuzzer and AddressSanitizer, briefly (README: "Fuzzing and
# sanitizers" says how to run them for hours).
FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh
