#!/usr/bin/env python3
"""Reads the running counters of smtp-sink -c output files (bench/outbound.sh).

smtp-sink -c rewrites one status line ("\\rsess=N quit=N mesg=N") whenever a session ends, a
QUIT arrives or a message's "." is received; the last "mesg=" in a file is that sink's count.

    sink_counts.py counts FILE...                     # one count per file, space-separated
    sink_counts.py wait --total N --timeout S FILE... # poll until the counts add up to N

`wait` polls every 20 ms (reading only each file's tail, so a 2-core box barely notices), prints
the epoch time at which the sum first reached N (or exceeded it) and exits 0; after the timeout it
prints the sum reached so far to standard error and exits 1.
"""

import argparse
import os
import re
import sys
import time

MESG = re.compile(rb"mesg=(\d+)")


def count(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256))
            found = MESG.findall(f.read())
    except OSError:
        return 0
    return int(found[-1]) if found else 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    counts = sub.add_parser("counts")
    counts.add_argument("files", nargs="+")
    wait = sub.add_parser("wait")
    wait.add_argument("--total", type=int, required=True)
    wait.add_argument("--timeout", type=float, required=True)
    wait.add_argument("files", nargs="+")
    args = parser.parse_args()

    if args.command == "counts":
        print(" ".join(str(count(p)) for p in args.files))
        return 0
    deadline = time.time() + args.timeout
    while True:
        total = sum(count(p) for p in args.files)
        now = time.time()
        if total >= args.total:
            print(f"{now:.6f}")
            return 0
        if now >= deadline:
            sys.stderr.write(f"sink_counts.py: {total} of {args.total} after {args.timeout:.0f} s\n")
            return 1
        time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
