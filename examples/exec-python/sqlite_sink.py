#!/usr/bin/env python3
"""An exec sink for Sluice: records into a SQLite table, committed in one transaction with the
checkpoint Sluice hands over, so a crash anywhere neither loses nor repeats a record. Python
standard library only.

    [sink]
    type = "exec"
    command = ["python3", "sqlite_sink.py", "--db", "/srv/lake/press.db", "--table", "readings"]

Rows the table refuses (a CHECK or UNIQUE constraint) go back to Sluice as rejected, and Sluice
writes them to the dead-letter output. The protocol is in Sources/Connectors/Exec/README.md.
"""
import argparse
import decimal
import json
import sqlite3
import sys

SQL_TYPES = {"bool": "BOOLEAN", "int32": "INTEGER", "int64": "INTEGER", "float64": "REAL", "string": "TEXT",
             "date": "DATE", "timestamp": "TIMESTAMP"}


def send(message):
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def sql_type(sluice_type):
    # Decimals stay exact as text: a declared type containing TEXT has text affinity in SQLite
    # (DECIMAL alone would turn the digits into a float); precision and scale stay in the name.
    return "DECIMAL_TEXT" + sluice_type[len("decimal"):] if sluice_type.startswith("decimal") else SQL_TYPES[sluice_type]


def value(v, sluice_type):
    if v is None:
        return None
    if sluice_type.startswith("decimal"):
        return str(v)
    if sluice_type == "float64":
        return float(v)
    return v


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--table", required=True)
    args = parser.parse_args()

    # isolation_level=None: transactions are begun and committed here, explicitly.
    db = sqlite3.connect(args.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS sluice_checkpoints (pipeline TEXT PRIMARY KEY, checkpoint TEXT NOT NULL)")
    pipeline, fields, insert = None, [], None
    in_transaction, sent, rejected = False, 0, []

    for line in sys.stdin:
        # Decimals arrive as JSON numbers: parse them exactly.
        message = json.loads(line, parse_float=decimal.Decimal)
        kind = message["type"]
        if kind == "start":
            pipeline = message["pipeline"]
            row = db.execute("SELECT checkpoint FROM sluice_checkpoints WHERE pipeline = ?", (pipeline,)).fetchone()
            send({"type": "hello", "protocol": 1, "checkpoint": row[0] if row else None})
        elif kind == "schema":
            fields = message["fields"]
            columns = ", ".join(f'"{f["name"]}" {sql_type(f["type"])}{"" if f["nullable"] else " NOT NULL"}' for f in fields)
            db.execute(f'CREATE TABLE IF NOT EXISTS "{args.table}" ({columns})')
            names = ", ".join(f'"{f["name"]}"' for f in fields)
            insert = f'INSERT INTO "{args.table}" ({names}) VALUES ({", ".join("?" for _ in fields)})'
        elif kind == "record":
            if not in_transaction:
                db.execute("BEGIN IMMEDIATE")
                in_transaction = True
            data = message["data"]
            try:
                db.execute(insert, [value(data.get(f["name"]), f["type"]) for f in fields])
            except sqlite3.IntegrityError as e:
                rejected.append({"index": sent, "reason": str(e)})
            sent += 1
        elif kind == "flush":
            send({"type": "flushed", "rejected": rejected})
            rejected = []
        elif kind == "commit":
            if not in_transaction:
                db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO sluice_checkpoints (pipeline, checkpoint) VALUES (?, ?) "
                       "ON CONFLICT (pipeline) DO UPDATE SET checkpoint = excluded.checkpoint", (pipeline, message["checkpoint"]))
            db.execute("COMMIT")
            in_transaction, sent = False, 0
            send({"type": "committed"})
        elif kind == "shutdown":
            break
    # Input closed or shutdown: what was not committed is rolled back.
    if in_transaction:
        db.execute("ROLLBACK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
