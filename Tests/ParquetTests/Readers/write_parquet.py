"""Writes Parquet files with pyarrow and DuckDB for the Swift reader tests, and beside each
FILE.parquet a FILE.json with the values written, in read_parquet.py's canonical form.

usage: write_parquet.py FOLDER
"""
import datetime as dt
import decimal
import json
import os
import random
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

decimal.getcontext().prec = 80
ROWS = 5000
SCHEMA = [("flag", "bool"), ("small", "int32"), ("big", "int64"), ("ratio", "float64"), ("label", "string"),
          ("note", "string"), ("day", "date"), ("ts", "timestamp"), ("price", "decimal(9,2)"),
          ("amount", "decimal(18,4)"), ("huge", "decimal(38,10)")]
LABELS = ["Prensa nº 3", "Ölpumpe", "注塑机 B", "", "press-01"]


def make_columns(rng):
    def maybe(v):
        return None if rng.random() < 0.15 else v
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    cols = {
        "flag": [maybe(rng.random() < 0.5) for _ in range(ROWS)],
        "small": [maybe(rng.randint(-5, 5)) for _ in range(ROWS)],
        "big": [maybe(rng.randint(-2**63, 2**63 - 1)) for _ in range(ROWS)],
        "ratio": [maybe(rng.uniform(-1e6, 1e6)) for _ in range(ROWS)],
        "label": [maybe(rng.choice(LABELS)) for _ in range(ROWS)],
        "note": [maybe(f"n{i}-" + "".join(rng.choice("abcäö€日😀 ") for _ in range(rng.randint(0, 30)))) for i in range(ROWS)],
        "day": [maybe(dt.date(1970, 1, 1) + dt.timedelta(days=rng.randint(-25000, 120000))) for _ in range(ROWS)],
        "ts": [maybe(epoch + dt.timedelta(microseconds=rng.randint(-2_000_000_000_000_000, 9_000_000_000_000_000))) for _ in range(ROWS)],
        "price": [maybe(decimal.Decimal(rng.randint(-10**9 + 1, 10**9 - 1)).scaleb(-2)) for _ in range(ROWS)],
        "amount": [maybe(decimal.Decimal(rng.randint(-10**18 + 1, 10**18 - 1)).scaleb(-4)) for _ in range(ROWS)],
        "huge": [maybe(decimal.Decimal(rng.randint(-10**38 + 1, 10**38 - 1)).scaleb(-10)) for _ in range(ROWS)],
    }
    return cols


def arrow_table(cols):
    types = {"flag": pa.bool_(), "small": pa.int32(), "big": pa.int64(), "ratio": pa.float64(), "label": pa.string(),
             "note": pa.string(), "day": pa.date32(), "ts": pa.timestamp("us", tz="UTC"), "price": pa.decimal128(9, 2),
             "amount": pa.decimal128(18, 4), "huge": pa.decimal128(38, 10)}
    return pa.table({name: pa.array(cols[name], type=types[name]) for name, _ in SCHEMA})


def canonical(cols):
    out = {}
    for name, t in SCHEMA:
        values = []
        for v in cols[name]:
            if v is None:
                values.append(None)
            elif t == "bool":
                values.append("true" if v else "false")
            elif t in ("int32", "int64"):
                values.append(str(v))
            elif t == "float64":
                values.append(repr(v))
            elif t == "string":
                values.append(v)
            elif t == "date":
                values.append(str((v - dt.date(1970, 1, 1)).days))
            elif t == "timestamp":
                d = v - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
                values.append(str(d.days * 86_400_000_000 + d.seconds * 1_000_000 + d.microseconds))
            else:
                scale = int(t[len("decimal("):-1].split(",")[1])
                values.append(str(int(v.scaleb(scale))))
        out[name] = values
    return out


def main(folder):
    rng = random.Random(20261130)
    cols = make_columns(rng)
    table = arrow_table(cols)
    expected = {"schema": [{"name": n, "type": t} for n, t in SCHEMA], "columns": canonical(cols)}
    files = {
        "pyarrow-plain-snappy": lambda p: pq.write_table(table, p, use_dictionary=False, compression="snappy", row_group_size=2000),
        "pyarrow-dictionary-zstd": lambda p: pq.write_table(table, p, use_dictionary=True, compression="zstd", row_group_size=2000),
        "pyarrow-v2-gzip": lambda p: pq.write_table(table, p, data_page_version="2.0", compression="gzip", data_page_size=4096),
        "pyarrow-none": lambda p: pq.write_table(table, p, compression="none", data_page_size=2048),
    }
    for codec in ("snappy", "zstd", "uncompressed"):
        def with_duckdb(p, codec=codec):
            con = duckdb.connect()
            con.register("source", table)
            con.execute(f"COPY (SELECT * FROM source) TO '{p}' (FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE 2048)")
        files[f"duckdb-{codec}"] = with_duckdb
    for name, write in files.items():
        path = os.path.join(folder, name + ".parquet")
        write(path)
        with open(os.path.join(folder, name + ".json"), "w") as f:
            json.dump(expected, f)
    print("\n".join(os.path.join(folder, n + ".parquet") for n in files))


if __name__ == "__main__":
    main(sys.argv[1])
