#!/usr/bin/env python3
"""Exec plugins for the tests, each behaving (or misbehaving) one way.

    test_plugins.py numbers COUNT [--every N] [--crash-once MARKER]
        a source of records id = 1..COUNT (with every column type), a checkpoint every N;
        with --crash-once: the first run that finds no MARKER creates it and dies (status 3)
        after its first checkpoint, with a message on standard error
    test_plugins.py crash       a source that dies (status 3) after one record, before any checkpoint
    test_plugins.py hang        a source that says hello, then nothing
    test_plugins.py garbage     a source that says hello, then prints a traceback
    test_plugins.py error       a source that reports an error it will not recover from
    test_plugins.py bad-records a source whose record 2 has a string where an integer belongs
"""
import json
import os
import sys
import time

SCHEMA = [{"name": "id", "type": "int64", "nullable": False}, {"name": "label", "type": "string"},
          {"name": "amount", "type": "decimal(12,3)"}, {"name": "reading", "type": "float64"},
          {"name": "day", "type": "date"}, {"name": "at", "type": "timestamp"}, {"name": "ok", "type": "bool"}]


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def record(i):
    return {"id": i, "label": f"row {i} Pressão \"q\"" if i % 4 else None, "amount": f"{i * 1.5:.3f}", "reading": i / 4 - 10,
            "day": f"2026-11-{1 + i % 28:02d}", "at": f"2026-11-30T08:{i % 60:02d}:00.{i:06d}+01:00", "ok": i % 2 == 0}


def main():
    mode = sys.argv[1]
    start = json.loads(sys.stdin.readline())
    send({"type": "hello", "protocol": 1, "schema": SCHEMA})
    if mode == "numbers":
        count = int(sys.argv[2])
        every = int(sys.argv[sys.argv.index("--every") + 1]) if "--every" in sys.argv else 5
        marker = sys.argv[sys.argv.index("--crash-once") + 1] if "--crash-once" in sys.argv else None
        first = int(start["cursor"]) + 1 if start.get("cursor") else 1
        for i in range(first, count + 1):
            send({"type": "record", "data": record(i)})
            if i % every == 0 or i == count:
                send({"type": "checkpoint", "cursor": str(i)})
                if marker and not os.path.exists(marker):
                    open(marker, "w").close()
                    print("boom: the machine's database went away", file=sys.stderr)
                    sys.exit(3)
        send({"type": "done"})
        for line in sys.stdin:
            message = json.loads(line)
            if message["type"] == "ack":
                print(f"ack {message['cursor']}", file=sys.stderr)
    elif mode == "crash":
        send({"type": "record", "data": record(1)})
        print("boom: the machine's database went away", file=sys.stderr)
        sys.exit(3)
    elif mode == "hang":
        print("waiting for a lock that never comes", file=sys.stderr)
        time.sleep(3600)
    elif mode == "garbage":
        print('  File "reader.py", line 12, in <module>', file=sys.stderr, flush=True)
        sys.stdout.write("Traceback (most recent call last):\n")
        sys.stdout.flush()
        time.sleep(3600)
    elif mode == "error":
        send({"type": "error", "message": "table events does not exist", "retry": False})
    elif mode == "bad-records":
        send({"type": "record", "data": record(1)})
        bad = record(2)
        bad["id"] = "two"
        send({"type": "record", "data": bad})
        send({"type": "record", "data": record(3)})
        send({"type": "checkpoint", "cursor": "3"})
        send({"type": "done"})
        sys.stdin.read()


if __name__ == "__main__":
    main()
