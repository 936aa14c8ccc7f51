"""Reads Parquet files with readers nobody on the Sluice team wrote (pyarrow, DuckDB, fastparquet)
and prints what each one sees as JSON, for the Swift interop tests to compare with what was
written.

usage: read_parquet.py FILE...

Values are canonical: null; "true"/"false"; integers, dates (days since 1970-01-01), timestamps
(microseconds since 1970-01-01 UTC) and decimals (unscaled) as decimal strings; floats as Python
repr strings ("nan" for NaN); text as text. Statistics are per row group and column:
{"min": v, "max": v, "null_count": n} in the same canonical form, or null when absent.
"""
import datetime as dt
import decimal
import json
import math
import sys
import traceback

import duckdb
import fastparquet
import pyarrow as pa
import pyarrow.parquet as pq
import pandas as pd

decimal.getcontext().prec = 80
EPOCH_DATE = dt.date(1970, 1, 1)
EPOCH_TS = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def sluice_schema(path):
    meta = pq.ParquetFile(path).metadata.metadata or {}
    raw = meta.get(b"sluice.schema")
    return json.loads(raw) if raw else None


def scale_of(type_name):
    if type_name.startswith("decimal("):
        return int(type_name[len("decimal("):-1].split(",")[1])
    return 0


def canon(value, type_name):
    """Canonical form of a Python value read for a column of Sluice type `type_name`."""
    if value is None:
        return None
    if type_name == "bool":
        return "true" if value else "false"
    if type_name in ("int32", "int64"):
        return str(int(value))
    if type_name == "float64":
        v = float(value)
        return "nan" if math.isnan(v) else repr(v)
    if type_name == "string":
        return value if isinstance(value, str) else bytes(value).decode("utf-8")
    if type_name == "date":
        if isinstance(value, dt.datetime):
            value = value.date()
        return str((value - EPOCH_DATE).days)
    if type_name == "timestamp":
        if isinstance(value, int):
            return str(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        delta = value - EPOCH_TS
        return str(delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds)
    if type_name.startswith("decimal("):
        d = decimal.Decimal(value)
        return str(int(d.scaleb(scale_of(type_name))))
    raise ValueError(f"unknown type {type_name}")


def with_pyarrow(path, schema):
    table = pq.read_table(path)
    columns = {}
    for field in schema:
        name, t = field["name"], field["type"]
        array = table.column(name).combine_chunks()
        if t == "timestamp":
            # As integers: datetime cannot hold every microsecond timestamp Parquet can.
            ints = array.cast(pa.int64())
            columns[name] = [None if v is None else str(v) for v in ints.to_pylist()]
        elif t == "date":
            ints = array.cast(pa.int32())
            columns[name] = [None if v is None else str(v) for v in ints.to_pylist()]
        else:
            columns[name] = [canon(v, t) for v in array.to_pylist()]
    meta = pq.ParquetFile(path).metadata
    stats = []
    for g in range(meta.num_row_groups):
        row = []
        for c, field in enumerate(schema):
            s = meta.row_group(g).column(c).statistics
            if s is None:
                row.append(None)
                continue
            entry = {"null_count": s.null_count if s.has_null_count else None}
            if s.has_min_max:
                entry["min"] = canon(s.min, field["type"])
                entry["max"] = canon(s.max, field["type"])
            row.append(entry)
        stats.append(row)
    return {"columns": columns, "stats": stats, "rows": table.num_rows}


def parse_duckdb_stat(text, type_name):
    if text is None:
        return None
    if type_name == "bool":
        return "true" if text.lower() == "true" else "false"
    if type_name in ("int32", "int64"):
        return str(int(text))
    if type_name == "float64":
        return canon(float(text), type_name)
    if type_name == "string":
        return text
    if type_name == "date":
        return canon(dt.date.fromisoformat(text), type_name)
    if type_name == "timestamp":
        return canon(dt.datetime.fromisoformat(text), type_name)
    if type_name.startswith("decimal("):
        return canon(decimal.Decimal(text), type_name)
    raise ValueError(type_name)


def with_duckdb(path, schema):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    select = []
    for field in schema:
        q = '"' + field["name"].replace('"', '""') + '"'
        t = field["type"]
        if t == "timestamp":
            select.append(f"CAST(epoch_us({q}) AS VARCHAR)")
        elif t == "date":
            select.append(f"CAST(CAST({q} - DATE '1970-01-01' AS BIGINT) AS VARCHAR)")
        elif t.startswith("decimal("):
            select.append(f"CAST({q} AS VARCHAR)")
        else:
            select.append(q)
    rows = con.execute(f"SELECT {', '.join(select)} FROM read_parquet(?, file_row_number = true) ORDER BY file_row_number",
                       [path]).fetchall()
    columns = {}
    for c, field in enumerate(schema):
        t = field["type"]
        values = []
        for r in rows:
            v = r[c]
            if v is None:
                values.append(None)
            elif t in ("timestamp", "date"):
                values.append(v)
            elif t.startswith("decimal("):
                values.append(canon(decimal.Decimal(v), t))
            else:
                values.append(canon(v, t))
        columns[field["name"]] = values
    meta = con.execute(
        "SELECT row_group_id, column_id, stats_min_value, stats_max_value, stats_null_count "
        "FROM parquet_metadata(?) ORDER BY row_group_id, column_id", [path]).fetchall()
    groups = {}
    for g, c, lo, hi, nulls in meta:
        t = schema[c]["type"]
        entry = {"null_count": nulls}
        if lo is not None or hi is not None:
            entry["min"] = parse_duckdb_stat(lo, t)
            entry["max"] = parse_duckdb_stat(hi, t)
        groups.setdefault(g, {})[c] = entry
    stats = [[groups[g].get(c) for c in range(len(schema))] for g in sorted(groups)]
    return {"columns": columns, "stats": stats, "rows": len(rows)}


def with_fastparquet(path, schema):
    pf = fastparquet.ParquetFile(path)
    # fastparquet turns decimals into float64, which cannot hold 38 digits, and dates into
    # nanoseconds, which wrap after 2262: drop those annotations so it returns the stored values
    # (unscaled ints or big-endian bytes; days) and canonicalise those. pyarrow and DuckDB check
    # the annotations themselves.
    decimal_columns, widths, raw_dates = set(), {}, set()
    for element in pf.fmd.schema[1:]:
        logical = element.logicalType
        if element.converted_type == 5 or (logical is not None and logical.DECIMAL is not None):
            decimal_columns.add(element.name)
            widths[element.name] = element.type_length
        elif element.converted_type == 6 or (logical is not None and logical.DATE is not None):
            raw_dates.add(element.name)
        else:
            continue
        element.converted_type = None
        element.logicalType = None
    if decimal_columns or raw_dates:
        pf._base_dtype = None
        pf._set_attrs()
    frame = pf.to_pandas()
    columns = {}
    for field in schema:
        name, t = field["name"], field["type"]
        values = []
        for v in frame[name].tolist():
            if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v) and t != "float64"):
                values.append(None)
            elif t == "float64" and isinstance(v, float) and math.isnan(v) and field["nullable"]:
                # pandas shows NULL as NaN in a float column; the NaN test leaves fastparquet out.
                values.append(None)
            elif name in decimal_columns:
                if isinstance(v, (bytes, bytearray)):
                    # numpy's fixed-width bytes drop trailing NUL bytes; put them back.
                    v = bytes(v).ljust(widths[name] or 0, b"\0")
                    values.append(str(int.from_bytes(v, "big", signed=True)))
                else:
                    values.append(str(int(v)))
            elif name in raw_dates:
                values.append(str(int(v)))
            elif t == "timestamp":
                values.append(str(int(pd.Timestamp(v).asm8.astype("datetime64[us]").astype("int64"))))
            elif t == "date":
                values.append(canon(pd.Timestamp(v).date(), t))
            else:
                values.append(canon(v, t))
        columns[name] = values
    return {"columns": columns, "rows": len(frame)}


def main(paths):
    out = {}
    for path in paths:
        schema = sluice_schema(path)
        result = {}
        for name, reader in (("pyarrow", with_pyarrow), ("duckdb", with_duckdb), ("fastparquet", with_fastparquet)):
            try:
                result[name] = reader(path, schema)
            except Exception as e:  # reported, and the Swift test fails on it
                result[name] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}
        out[path] = result
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
