#!/usr/bin/env python3
"""Store benchmark driver (bench/store.sh): LMTP delivery rate and IMAP FETCH of a full mailbox,
the same load against any LMTP + IMAPS server pair (mailnode's store role, Dovecot).

  store_bench.py deliver --lmtp HOST:PORT --to USER --count N --size BYTES --conc C
  store_bench.py fetch --imaps HOST:PORT --user U --password P --cafile CA [--expect N]

Each prints one JSON object. deliver: C connections, each LHLO once then MAIL/RCPT/DATA per
message (one recipient), so the figure is per-message cost with connection reuse. fetch: one
IMAPS session, SELECT INBOX, then `FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])` timed from the
command to its tagged OK, every literal read; the body bytes are counted and checked.
"""
import argparse
import imaplib
import json
import smtplib
import ssl
import sys
import threading
import time


def message(index, size):
    head = (f"From: bench@example.net\r\nTo: user@bench.test\r\nSubject: bench {index}\r\n"
            f"Message-ID: <{index}.{time.time_ns()}@bench.example.net>\r\n\r\n")
    line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return (head + body).encode()


def deliver(args):
    host, port = args.lmtp.rsplit(":", 1)
    per = [args.count // args.conc + (1 if i < args.count % args.conc else 0) for i in range(args.conc)]
    failures = []
    lock = threading.Lock()

    def worker(slot, n):
        client = smtplib.LMTP(host, int(port), timeout=60)
        client.ehlo("bench.example.test")
        for i in range(n):
            client.mail("bench@example.net")
            code, text = client.rcpt(args.to)
            if code != 250:
                with lock:
                    failures.append(f"rcpt {code} {text!r}")
                client.rset()
                continue
            code, text = client.data(message(slot * 1_000_000 + i, args.size))
            if code != 250:
                with lock:
                    failures.append(f"data {code} {text!r}")
        client.quit()

    threads = [threading.Thread(target=worker, args=(slot, n)) for slot, n in enumerate(per)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return {"messages": args.count, "seconds": elapsed, "per_second": args.count / elapsed,
            "failures": len(failures), "first_failure": failures[0] if failures else None}


def fetch(args):
    host, port = args.imaps.rsplit(":", 1)
    context = ssl.create_default_context(cafile=args.cafile)
    client = imaplib.IMAP4_SSL(host, int(port), ssl_context=context, timeout=120)
    client.login(args.user, args.password)
    typ, data = client.select("INBOX", readonly=True)
    exists = int(data[0])
    start = time.monotonic()
    typ, data = client.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
    elapsed = time.monotonic() - start
    bodies = [item[1] for item in data if isinstance(item, tuple)]
    total = sum(len(b) for b in bodies)
    client.logout()
    ok = typ == "OK" and len(bodies) == exists and (args.expect is None or exists == args.expect)
    return {"ok": ok, "messages": len(bodies), "exists": exists, "bytes": total, "seconds": elapsed,
            "per_second": len(bodies) / elapsed if elapsed else 0}


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deliver")
    d.add_argument("--lmtp", required=True)
    d.add_argument("--to", required=True)
    d.add_argument("--count", type=int, default=1000)
    d.add_argument("--size", type=int, default=2048)
    d.add_argument("--conc", type=int, default=4)
    f = sub.add_parser("fetch")
    f.add_argument("--imaps", required=True)
    f.add_argument("--user", required=True)
    f.add_argument("--password", required=True)
    f.add_argument("--cafile", required=True)
    f.add_argument("--expect", type=int)
    args = parser.parse_args()
    out = deliver(args) if args.command == "deliver" else fetch(args)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
