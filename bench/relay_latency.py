#!/usr/bin/env python3
"""Accept latency at an SMTP listener (used by bench/relay.sh).

Each message: connect, read 220, EHLO, MAIL, RCPT, DATA, then header + body + "." in ONE
write with TCP_NODELAY (two small writes would wait ~40 ms for a delayed ACK), wait for the
reply, QUIT. --concurrency sessions run at once (asyncio, one process).

  txn      = connect .. final reply to the data
  dot->250 = the data handed to the kernel .. its reply (the server's commit: spool write,
             fsync, reply)
Prints one JSON object: msgs/s, p50/p99/max of both (ms), errors.
"""
import argparse
import asyncio
import json
import socket
import sys
import time


async def reply(reader):
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), line


async def one(port, payload, helo):
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for cmd, want in ((None, 220), (b"EHLO " + helo, 250), (b"MAIL FROM:<sender@bench.local>", 250),
                          (b"RCPT TO:<rcpt@bench.test>", 250), (b"DATA", 354)):
            if cmd is not None:
                writer.write(cmd + b"\r\n")
            code, line = await reply(reader)
            if code != want:
                raise RuntimeError(line.decode(errors="replace").strip())
        writer.write(payload)
        t1 = time.perf_counter()
        code, line = await reply(reader)
        t2 = time.perf_counter()
        if code != 250:
            raise RuntimeError(line.decode(errors="replace").strip())
        writer.write(b"QUIT\r\n")
        try:
            await reply(reader)
        except ConnectionError:
            pass
        return t2 - t0, t2 - t1
    finally:
        writer.close()


def pct(values, p):
    values = sorted(values)
    if not values:
        return None
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--size", type=int, default=5120)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    line = b"X" * 76 + b"\r\n"
    body = line * max(1, args.size // len(line))  # ~size octets of 78-octet lines
    payload = (b"From: sender@bench.local\r\nTo: rcpt@bench.test\r\nSubject: latency\r\n\r\n"
               + body + b".\r\n")
    txn, commit, errors = [], [], []
    todo = iter(range(args.n))

    async def worker():
        for _ in todo:
            try:
                a, b = await one(args.port, payload, b"latency.bench.local")
                txn.append(a)
                commit.append(b)
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(str(e))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    wall = time.perf_counter() - start
    ms = lambda v: None if v is None else round(v * 1000, 3)  # noqa: E731
    print(json.dumps({
        "label": args.label, "concurrency": args.concurrency, "n": args.n, "ok": len(txn),
        "errors": len(errors), "first_error": errors[0] if errors else None,
        "msgs_per_s": round(len(txn) / wall, 1),
        "txn_p50_ms": ms(pct(txn, 50)), "txn_p99_ms": ms(pct(txn, 99)), "txn_max_ms": ms(max(txn) if txn else None),
        "dot_p50_ms": ms(pct(commit, 50)), "dot_p99_ms": ms(pct(commit, 99)),
        "dot_max_ms": ms(max(commit) if commit else None),
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
