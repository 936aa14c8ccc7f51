#!/usr/bin/env python3
"""An exec source for Sluice: the rows of a SQLite table with an increasing integer key, e.g. the
event table of an MES or a machine's own database. Python standard library only.

    [source]
    type = "exec"
    command = ["python3", "sqlite_source.py", "--db", "/srv/mes/events.db", "--table", "events", "--key", "id"]

The cursor is the last key loaded: a run after a crash reads on from the committed one, so
nothing is lost and nothing repeats. The protocol is in Sources/Connectors/Exec/README.md.
"""
import argparse
import json
import sqlite3
import sys

# SQLite declared types to Sluice types; anything else is a string.
TYPES = {"INTEGER": "int64", "INT": "int64", "BIGINT": "int64", "REAL": "float64", "DOUBLE": "float64",
         "FLOAT": "float64", "BOOLEAN": "bool", "DATE": "date", "TIMESTAMP": "timestamp", "DATETIME": "timestamp"}


def send(message):
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def receive():
    line = sys.stdin.readline()
    return json.loads(line) if line else {"type": "shutdown"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--batch", type=int, default=1000, help="records per checkpoint")
    args = parser.parse_args()

    start = receive()
    if start.get("type") != "start" or start.get("role") != "source":
        send({"type": "error", "message": f"expected start of a source, got {start.get('type')}", "retry": False})
        return 1
    try:
        db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
        columns = db.execute(f'PRAGMA table_info("{args.table}")').fetchall()
    except sqlite3.Error as e:
        send({"type": "error", "message": f"cannot open {args.db}: {e}", "retry": True})
        return 1
    if not columns:
        send({"type": "error", "message": f"no table {args.table} in {args.db}", "retry": False})
        return 1
    names = [c[1] for c in columns]
    types = [TYPES.get((c[2] or "").split("(")[0].upper(), "string") for c in columns]
    schema = [{"name": n, "type": t, "nullable": n != args.key} for n, t in zip(names, types)]
    for column in columns:  # DECIMAL(p,s) keeps its precision
        declared = (column[2] or "").upper()
        if declared.startswith(("DECIMAL", "NUMERIC")) and "(" in declared:
            schema[names.index(column[1])]["type"] = "decimal" + declared[declared.index("("):].replace(" ", "")
    send({"type": "hello", "protocol": 1, "schema": schema})

    cursor = int(start["cursor"]) if start.get("cursor") is not None else None
    quoted = ", ".join(f'"{n}"' for n in names)
    while True:
        if cursor is None:
            rows = db.execute(f'SELECT {quoted} FROM "{args.table}" ORDER BY "{args.key}" LIMIT ?', (args.batch,)).fetchall()
        else:
            rows = db.execute(f'SELECT {quoted} FROM "{args.table}" WHERE "{args.key}" > ? ORDER BY "{args.key}" LIMIT ?',
                              (cursor, args.batch)).fetchall()
        if not rows:
            break
        for row in rows:
            data = {}
            for name, kind, value in zip(names, types, row):
                data[name] = bool(value) if kind == "bool" and value is not None else value
            send({"type": "record", "data": data})
        cursor = rows[-1][names.index(args.key)]
        send({"type": "checkpoint", "cursor": str(cursor)})
    send({"type": "done"})
    # Acknowledgements arrive until Sluice closes our input; a source that must delete or mark
    # what was loaded does it here, for the cursor acknowledged.
    while (message := receive())["type"] != "shutdown":
        if message["type"] == "ack":
            print(f"acknowledged up to {message['cursor']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
