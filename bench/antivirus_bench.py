#!/usr/bin/env python3
"""Drivers for bench/antivirus.sh (issue 10): the same messages through the antivirus stage over
SMTP, and straight to clamd over INSTREAM (the peer), at a given concurrency.

    antivirus_bench.py make SIZE FILE            # a clean multipart message of about SIZE octets
    antivirus_bench.py smtp PORT FILE N CONC     # N messages over SMTP, CONC sessions; prints JSON
    antivirus_bench.py clamd ENDPOINT FILE N CONC  # N zINSTREAM scans (host:port or unix:/path)

Every SMTP message must get 250 and every scan 'stream: OK'; otherwise the run fails (exit 1).
"""
import base64
import json
import os
import random
import smtplib
import socket
import struct
import sys
import threading
import time


def make(size, path):
    rnd = random.Random(size)
    text = "Hello,\r\n\r\nplease find the report attached.\r\n"
    payload = bytes(rnd.getrandbits(8) for _ in range(max(1, (size - 800) * 57 // 78)))
    encoded = base64.encodebytes(payload).decode().replace("\n", "\r\n")
    message = ("From: bench@example.org\r\nTo: user@example.net\r\nSubject: bench\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n--b0\r\nContent-Type: text/plain\r\n\r\n" + text +
               "--b0\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
               "Content-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               + encoded + "--b0--\r\n")
    with open(path, "wb") as f:
        f.write(message.encode())


def run_parallel(n, conc, work):
    counter = {"next": 0, "errors": []}
    lock = threading.Lock()

    def worker():
        state = {}
        while True:
            with lock:
                if counter["next"] >= n:
                    break
                counter["next"] += 1
            try:
                work(state)
            except Exception as error:  # noqa: BLE001 - reported below
                with lock:
                    counter["errors"].append(str(error))
        if "close" in state:
            state["close"]()

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return elapsed, counter["errors"]


def smtp(port, path, n, conc):
    data = open(path, "rb").read()

    def work(state):
        if "client" not in state:
            client = smtplib.SMTP("127.0.0.1", port, timeout=120)
            client.ehlo("bench.test")
            state["client"] = client
            state["close"] = client.quit
        client = state["client"]
        refused = client.sendmail("bench@example.org", ["user@example.net"], data)
        if refused:
            raise RuntimeError(f"refused: {refused}")

    return run_parallel(n, conc, work)


def clamd(endpoint, path, n, conc):
    data = open(path, "rb").read()

    def work(_state):
        if endpoint.startswith("unix:"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(endpoint[5:])
        else:
            host, port = endpoint.rsplit(":", 1)
            s = socket.create_connection((host, int(port)))
        with s:
            s.sendall(b"zINSTREAM\0")
            for offset in range(0, len(data), 65536):
                chunk = data[offset:offset + 65536]
                s.sendall(struct.pack(">I", len(chunk)) + chunk)
            s.sendall(struct.pack(">I", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                more = s.recv(4096)
                if not more:
                    break
                reply += more
        if reply != b"stream: OK\0":
            raise RuntimeError(f"clamd: {reply!r}")

    return run_parallel(n, conc, work)


def main():
    command = sys.argv[1]
    if command == "make":
        make(int(sys.argv[2]), sys.argv[3])
        return 0
    target, path, n, conc = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    if command == "smtp":
        elapsed, errors = smtp(int(target), path, n, conc)
    else:
        elapsed, errors = clamd(target, path, n, conc)
    print(json.dumps({"driver": command, "messages": n, "concurrency": conc, "octets": os.path.getsize(path),
                      "seconds": round(elapsed, 3), "per_second": round(n / elapsed, 1), "errors": errors[:3],
                      "error_count": len(errors)}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
