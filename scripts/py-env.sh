#!/usr/bin/env bash
# Makes .build/pyenv, a Python virtualenv with readers of Parquet that nobody on the Sluice team
# wrote (pyarrow, DuckDB, fastparquet; pandas for fastparquet), from PyPI. Prints its python3.
# The Parquet tests read every file Sluice writes with them; the benchmarks time them. The daemon
# tests parse /metrics with prometheus_client's own parser; examples/custom-connector polls a
# pymodbus server standing in for a PLC. `bench postgres` times pandas' to_sql (SQLAlchemy, psycopg2).
set -euo pipefail
cd "$(dirname "$0")/.."
env=.build/pyenv
packages=(pyarrow==26.0.1 duckdb==2.0.1 fastparquet==2026.9.0 pandas==3.1.1 prometheus-client==0.26.0 pymodbus==3.16.1
          sqlalchemy==2.1.9 psycopg2-binary==2.9.13)
if ! "$env/bin/python3" -c "import pyarrow, duckdb, fastparquet, pandas, prometheus_client, pymodbus, sqlalchemy, psycopg2" >/dev/null 2>&1; then
  mkdir -p .build
  python3 -m venv "$env"
  "$env/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}" >&2
fi
echo "$PWD/$env/bin/python3"
