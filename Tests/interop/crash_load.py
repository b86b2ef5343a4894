#!/usr/bin/env python3
"""Load generator for the kill -9 crash test (Tests/SMTPCoreTests/Crash/).

Submits --count messages, each with a unique Message-ID, to 127.0.0.1:--port at
--concurrency sessions and about --rate messages per second, retrying every message until
it gets a 250 to its end of data, while the test kills and restarts the server underneath.
Every attempt carries `X-Crash-Attempt: <n>` so the sink can tell which attempt arrived.
The recipient is rcpt@crash.test, or with --rcpt-domains D1,D2,... message i goes to
rcpt<i>@D<i mod k> (the outbound crash test spreads the load over several MX domains).

One JSON line per attempt goes to --events (flushed per line; this process is never killed):
  {"mid": M, "attempt": n, "outcome": O, "reply": R, "queue_id": Q}
outcome is one of
  acked      250 to the end of data; queue_id from "Queued as <id>" (must arrive)
  ambiguous  the final "." may have left but no reply came (a lost 250 may still arrive)
  refused    no DATA sent: connect refused/reset, or a reply other than 2xx/354 before the
             data (must never arrive)
  rejected   a 4xx/5xx reply to the data (must never arrive)
Exits 0 when every message is acked, 1 at --deadline; a summary line goes to stdout.
"""
import argparse
import json
import queue
import re
import socket
import sys
import threading
import time


class Failure(Exception):
    pass


def read_reply(f):
    """One (possibly multi-line) reply -> (code, text of the last line)."""
    lines = []
    while True:
        line = f.readline(4096)
        if not line:
            raise Failure("connection closed")
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            break
    last = lines[-1]
    if len(last) < 3 or not last[:3].isdigit():
        raise Failure(f"malformed reply {last!r}")
    return int(last[:3]), last


def message_bytes(mid, attempt, body_lines, rcpt):
    head = (f"From: load@src.crash.test\r\nTo: {rcpt}\r\n"
            f"Subject: crash test {mid}\r\nMessage-ID: {mid}\r\n"
            f"X-Crash-Attempt: {attempt}\r\n\r\n")
    return (head + body_lines).encode()


def one_attempt(port, mid, attempt, body, timeout, rcpt):
    """Returns (outcome, reply, queue_id)."""
    data_sent = False
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        return "refused", f"connect: {e}", None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = sock.makefile("rb")

        def command(line, expect):
            sock.sendall(line.encode() + b"\r\n")
            code, text = read_reply(f)
            if code != expect:
                raise Failure(f"{line.split()[0]}: {text}")

        code, text = read_reply(f)
        if code != 220:
            raise Failure(f"greeting: {text}")
        command("EHLO load.crash.test", 250)
        command("MAIL FROM:<load@src.crash.test>", 250)
        command(f"RCPT TO:<{rcpt}>", 250)
        command("DATA", 354)
        data_sent = True
        sock.sendall(message_bytes(mid, attempt, body, rcpt) + b".\r\n")
        code, text = read_reply(f)
        if code != 250:
            return "rejected", text, None
        m = re.search(r"Queued as (\S+)", text)
        try:
            sock.sendall(b"QUIT\r\n")
            read_reply(f)
        except (OSError, Failure):
            pass
        return "acked", text, m.group(1) if m else None
    except (OSError, Failure) as e:
        return ("ambiguous" if data_sent else "refused"), str(e), None
    finally:
        sock.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--rate", type=float, default=30.0, help="attempts started per second, at most")
    p.add_argument("--events", required=True)
    p.add_argument("--deadline", type=float, default=60.0, help="seconds")
    p.add_argument("--token", default=str(int(time.time())))
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--rcpt-domains", default="", help="comma-separated; default: rcpt@crash.test for all")
    args = p.parse_args()

    body = "".join(f"line {i:03d} of a crash-test message body, padding padding padding\r\n" for i in range(16))
    todo = queue.Queue()
    domains = [d for d in args.rcpt_domains.split(",") if d]
    rcpts = {}
    for i in range(args.count):
        mid = f"<crash-{i:04d}.{args.token}@load.crash.test>"
        rcpts[mid] = f"rcpt{i}@{domains[i % len(domains)]}" if domains else "rcpt@crash.test"
        todo.put(mid)
    attempts = {}
    acked = set()
    lock = threading.Lock()
    events = open(args.events, "a", buffering=1)
    start = time.monotonic()
    deadline = start + args.deadline
    pace = {"next": start}
    counts = {"acked": 0, "ambiguous": 0, "refused": 0, "rejected": 0}

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if len(acked) == args.count:
                    return
            try:
                mid = todo.get(timeout=0.2)
            except queue.Empty:
                continue
            with lock:
                wait = pace["next"] - time.monotonic()
                pace["next"] = max(pace["next"], time.monotonic()) + 1.0 / args.rate
                attempts[mid] = attempts.get(mid, 0) + 1
                attempt = attempts[mid]
            if wait > 0:
                time.sleep(wait)
            outcome, reply, qid = one_attempt(args.port, mid, attempt, body, args.timeout, rcpts[mid])
            with lock:
                counts[outcome] += 1
                events.write(json.dumps({"mid": mid, "attempt": attempt, "outcome": outcome,
                                         "reply": reply, "queue_id": qid,
                                         "t": round(time.monotonic() - start, 3)}) + "\n")
                if outcome == "acked":
                    acked.add(mid)
            if outcome != "acked":
                time.sleep(0.05)  # the server is probably restarting
                todo.put(mid)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events.close()
    summary = dict(counts, messages=args.count, messages_acked=len(acked),
                   seconds=round(time.monotonic() - start, 2))
    print(json.dumps(summary), flush=True)
    sys.exit(0 if len(acked) == args.count else 1)


if __name__ == "__main__":
    main()
