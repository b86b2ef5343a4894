#!/usr/bin/env python3
"""Helpers of bench/mx.sh (untimed parts).

    mx_setup.py message --size 5120 --out FILE           the unsigned test message (LF line ends)
    mx_setup.py zone --dkim-record FILE --out FILE.json   the loopback DNS zone (dns_server.py JSON)
    mx_setup.py warmup --port P --helo H --from A --to A --file F
        one SMTP transaction through the greet pause (DM32): prints the seconds the greeting took
    mx_setup.py seed-triplet --db STATE.sqlite --network N/24 --from A --to A   a passed greylisting triplet
    mx_setup.py check-dump DIR                             the dumped message's Authentication-Results
"""

import argparse
import email.utils
import json
import os
import re
import smtplib
import sys
import time

SENDER_DOMAIN = "sender.test"
HELO = "mta.sender.test"


def message(args):
    header = [
        f"From: Bench Sender <sender@{SENDER_DOMAIN}>",
        "To: <rcpt@bench.test>",
        "Subject: mx benchmark message",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: <bench.{int(time.time())}@{SENDER_DOMAIN}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    line = ("The quick brown fox jumps over the lazy dog. " * 2)[:77]
    body, size = [], 0
    while size < args.size:  # the payload as smtp-source -l counts it: body octets with CRLF
        chunk = line[: max(1, min(len(line), args.size - size - 2))]
        body.append(chunk)
        size += len(chunk) + 2
    with open(args.out, "w", newline="\n") as handle:
        handle.write("\n".join(header) + "\n\n" + "\n".join(body) + "\n")


def zone(args):
    record = open(args.dkim_record).read()
    strings = re.findall(r'"([^"]*)"', record)
    value = "".join(strings)
    chunks = [value[i:i + 250] for i in range(0, len(value), 250)]
    txt = lambda name, *s: {"name": name, "type": "TXT", "strings": list(s), "ttl": 3600}
    records = [
        txt(SENDER_DOMAIN, "v=spf1 ip4:127.0.0.1 -all"),
        {"name": SENDER_DOMAIN, "type": "MX", "preference": 10, "exchange": HELO, "ttl": 3600},
        {"name": HELO, "type": "A", "value": "127.0.0.1", "ttl": 3600},
        {"name": "1.0.0.127.in-addr.arpa", "type": "PTR", "value": HELO + ".", "ttl": 3600},
        txt(f"bench._domainkey.{SENDER_DOMAIN}", *chunks),
        txt(f"_dmarc.{SENDER_DOMAIN}", "v=DMARC1; p=reject; adkim=s; aspf=s"),
        # the DNSBL test zone: the RFC 5782 test point 127.0.0.2 listed, the client 127.0.0.1 not
        {"name": "2.0.0.127.bl.test", "type": "A", "value": "127.0.0.2", "ttl": 3600},
        txt("2.0.0.127.bl.test", "test point"),
        {"name": "bench.test", "type": "MX", "preference": 10, "exchange": "mx.bench.test", "ttl": 3600},
        {"name": "mx.bench.test", "type": "A", "value": "127.0.0.1", "ttl": 3600},
    ]
    with open(args.out, "w") as handle:
        json.dump({"origin": "", "records": records}, handle, indent=1)


def warmup(args):
    data = open(args.file, "rb").read().replace(b"\n", b"\r\n")
    t0 = time.monotonic()
    client = smtplib.SMTP(timeout=60)
    client.connect("127.0.0.1", args.port)   # reads the greeting: the greet pause is here
    greeted = time.monotonic() - t0
    client.ehlo(args.helo)
    refused = client.sendmail(args.sender, [args.rcpt], data)
    client.quit()
    if refused:
        sys.exit(f"warm-up: refused {refused}")
    print(f"{greeted:.2f}")


def check_dump(args):
    deadline = time.time() + 30
    while time.time() < deadline:
        files = [os.path.join(args.dir, f) for f in os.listdir(args.dir)] if os.path.isdir(args.dir) else []
        files = [f for f in files if os.path.isfile(f) and os.path.getsize(f) > 0]
        if files:
            time.sleep(0.2)
            text = open(files[0], "rb").read().decode("ascii", "replace")
            head = text.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
            fields = re.findall(r"^Authentication-Results:.*(?:\r?\n[ \t].*)*", head, re.M | re.I)
            if args.no_authentication:
                print("delivered (no [mx.authentication]: no Authentication-Results expected)")
                return
            if not fields:
                sys.exit("check-dump: no Authentication-Results in the delivered message")
            field = " ".join(fields[0].split())
            print(field)
            for want in ("spf=pass", "dkim=pass", "dmarc=pass"):
                if want not in field:
                    sys.exit(f"check-dump: {want} missing")
            return
        time.sleep(0.1)
    sys.exit("check-dump: no message reached the sink's dump directory")


def seed_triplet(args):
    """A passed greylisting triplet, as Greylisting.decide() stores it (key, value "passed", 36 days)."""
    import sqlite3
    now = int(time.time() * 1000)
    key = f"greylist:{args.network}|{args.sender.lower()}|{args.rcpt.lower()}"
    db = sqlite3.connect(args.db, timeout=10)
    with db:
        db.execute("INSERT OR REPLACE INTO mailnode_records (key, value, created, expires) VALUES (?, 'passed', ?, ?)",
                   (key, now - 600_000, now + 36 * 86_400_000))
    db.close()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("message"); p.add_argument("--size", type=int, default=5120); p.add_argument("--out", required=True)
    p = sub.add_parser("zone"); p.add_argument("--dkim-record", required=True); p.add_argument("--out", required=True)
    p = sub.add_parser("warmup"); p.add_argument("--port", type=int, required=True); p.add_argument("--helo", default=HELO)
    p.add_argument("--from", dest="sender", required=True); p.add_argument("--to", dest="rcpt", required=True)
    p.add_argument("--file", required=True)
    p = sub.add_parser("seed-triplet"); p.add_argument("--db", required=True); p.add_argument("--network", required=True)
    p.add_argument("--from", dest="sender", required=True); p.add_argument("--to", dest="rcpt", required=True)
    p = sub.add_parser("check-dump"); p.add_argument("dir"); p.add_argument("--no-authentication", action="store_true")
    args = parser.parse_args()
    {"message": message, "zone": zone, "warmup": warmup, "seed-triplet": seed_triplet, "check-dump": check_dump}[args.command](args)


if __name__ == "__main__":
    main()
