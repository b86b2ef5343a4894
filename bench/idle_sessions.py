#!/usr/bin/env python3
"""Hold N idle SMTP sessions (each after EHLO) against one server and measure it under that load.

Used by bench/idle-sessions.sh; runnable alone:

  idle_sessions.py --port 2525 --sessions 10000 --pids 1234 [--samples 20] [--json out.json]

Steps:
  1. RSS of the server processes (--pids, or --pids-cmd re-evaluated for process-per-session
     servers such as Postfix) before any session: "idle".
  2. Open --sessions connections, --parallel at a time; each reads the greeting, sends EHLO and
     reads the whole EHLO reply, then stays silent.
  3. Wait --settle seconds, read memory again: "loaded". Per session = (loaded - idle) / N.
  4. With all sessions still open, --samples fresh clients one after another each measure
     connect -> greeting -> EHLO reply (ms) and then QUIT.
  5. Check every held session is still alive: NOOP on each, count the 250s.

Memory: VmRSS from /proc/PID/status, summed over the pids. For a multi-process server (Postfix)
the sum of RSS counts shared pages once per process; Pss from /proc/PID/smaps_rollup
(proportional share) is reported too and is the fairer total there.
"""
import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

EHLO = b"EHLO idle.bench.test\r\n"


def read_kb(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def memory(pids):
    """(sum VmRSS kB, sum Pss kB, process count) over live pids."""
    rss = pss = count = 0
    for pid in pids:
        value = read_kb(f"/proc/{pid}/status", "VmRSS")
        if value:
            count += 1
            rss += value
            pss += read_kb(f"/proc/{pid}/smaps_rollup", "Pss")
    return rss, pss, count


def current_pids(args):
    if args.pids_cmd:
        out = subprocess.run(args.pids_cmd, shell=True, capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]
    return [int(p) for p in args.pids.split(",") if p]


async def read_reply(reader):
    """Reads one (possibly multi-line) SMTP reply; returns its code."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if len(line) >= 4 and line[3:4] == b" ":
            return int(line[:3])
        if len(line) < 4 or line[3:4] != b"-":
            raise ValueError(f"bad reply line {line!r}")


async def open_session(host, port, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    greeting = await asyncio.wait_for(read_reply(reader), timeout)
    if greeting != 220:
        raise ValueError(f"greeting {greeting}")
    writer.write(EHLO)
    ehlo = await asyncio.wait_for(read_reply(reader), timeout)
    if ehlo != 250:
        raise ValueError(f"EHLO {ehlo}")
    return reader, writer


async def timed_session(host, port, timeout):
    """connect -> greeting -> EHLO reply, in ms; then QUIT."""
    start = time.perf_counter()
    reader, writer = await open_session(host, port, timeout)
    elapsed = (time.perf_counter() - start) * 1000
    writer.write(b"QUIT\r\n")
    try:
        await asyncio.wait_for(read_reply(reader), timeout)
    finally:
        writer.close()
    return elapsed


async def noop(reader, writer, timeout):
    try:
        writer.write(b"NOOP\r\n")
        return await asyncio.wait_for(read_reply(reader), timeout) == 250
    except Exception:
        return False


async def run(args):
    out = {"sessions_wanted": args.sessions, "port": args.port}
    # Baseline latency with no load (same client, same method).
    base = [await timed_session(args.host, args.port, args.timeout) for _ in range(args.samples)]
    out["latency_unloaded_ms"] = {"p50": statistics.median(base), "max": max(base)}
    await asyncio.sleep(args.settle)
    rss0, pss0, procs0 = memory(current_pids(args))
    out["idle"] = {"rss_kb": rss0, "pss_kb": pss0, "processes": procs0}

    sessions, errors = [], {}
    semaphore = asyncio.Semaphore(args.parallel)

    async def one():
        async with semaphore:
            try:
                sessions.append(await open_session(args.host, args.port, args.timeout))
            except Exception as error:  # noqa: BLE001 - counted and reported
                key = type(error).__name__ + ": " + str(error)[:80]
                errors[key] = errors.get(key, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(args.sessions)))
    out["open_seconds"] = time.perf_counter() - start
    out["sessions_open"] = len(sessions)
    out["open_errors"] = errors
    await asyncio.sleep(args.settle)
    rss1, pss1, procs1 = memory(current_pids(args))
    out["loaded"] = {"rss_kb": rss1, "pss_kb": pss1, "processes": procs1}
    n = max(len(sessions), 1)
    out["rss_per_session_kb"] = (rss1 - rss0) / n
    out["pss_per_session_kb"] = (pss1 - pss0) / n

    samples = []
    for _ in range(args.samples):
        samples.append(await timed_session(args.host, args.port, args.timeout))
        await asyncio.sleep(args.sample_gap)
    out["latency_loaded_ms"] = {"p50": statistics.median(samples), "max": max(samples),
                                "samples": [round(s, 2) for s in samples]}

    alive = await asyncio.gather(*(noop(r, w, args.timeout) for r, w in sessions))
    out["sessions_alive_at_end"] = sum(alive)
    for _, writer in sessions:
        writer.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--pids", default="", help="comma-separated server pids")
    parser.add_argument("--pids-cmd", help="shell command printing the server pids (re-run at each reading)")
    parser.add_argument("--parallel", type=int, default=200, help="connections being opened at once")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--sample-gap", type=float, default=0.05)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--json", help="write the result here too")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.sessions + args.samples + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        if min(want, hard) < want:
            sys.exit(f"open files limit {hard} is below the {want} this run needs")
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
