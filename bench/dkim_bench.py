#!/usr/bin/env python3
"""dkimpy's side of bench/dkim.sh: verify one signed message over and over for SECONDS on one
core, the key record answered from memory (as `mailnode dkim bench` does), and print the same
key=value line. Usage: dkim_bench.py SIGNED_FILE DNS_TXT_FILE SECONDS"""
import sys
import time
from importlib import metadata

import dkim

signed = open(sys.argv[1], "rb").read()
record = open(sys.argv[2], "rb").read().strip()
seconds = float(sys.argv[3])


def dnsfunc(name, timeout=5):
    return record


count = 0
start = time.perf_counter()
deadline = start + seconds
while True:
    if not dkim.verify(signed, dnsfunc=dnsfunc):
        sys.exit("dkimpy: the verification did not pass")
    count += 1
    if time.perf_counter() >= deadline:
        break
taken = time.perf_counter() - start
try:
    version = metadata.version("dkimpy")
except metadata.PackageNotFoundError:
    version = "?"
print(f"implementation=dkimpy-{version} octets={len(signed)} verifications={count} "
      f"seconds={taken:.2f} per_second={count / taken:.1f}")
