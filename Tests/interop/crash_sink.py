#!/usr/bin/env python3
"""Next hop for the kill -9 crash test: an aiosmtpd SMTP server that records every message
it accepts, durably, before it answers 250.

For each message one JSON line is appended to --log and fsynced:
  {"mid": Message-ID, "attempt": X-Crash-Attempt, "spool_id": the first stage's spool id (from
   the Mailnode-Id header `<ID@host>` when there is one, else from the first Received header),
   "size": octets}
--dir/.ready is created (holding the pid) once the listener is up. With --delay S, each
message waits S seconds (asyncio, sessions in parallel) before it is recorded and answered: a
slow receiver, so that a sender has many deliveries in flight (the outbound crash test).
"""
import argparse
import asyncio
import json
import os
import re
import signal
import threading

from aiosmtpd.controller import Controller

RECEIVED_ID = re.compile(rb"^Received:.*?\sid\s+([A-Za-z0-9]+)", re.I | re.S | re.M)
MAILNODE_ID = re.compile(r"^<([A-Za-z0-9]+)@")


def header(content, name):
    head = content.split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"^" + name + rb":[ \t]*(.*?)\r?$", head, re.I | re.M)
    return m.group(1).decode("utf-8", "replace").strip() if m else None


class Handler:
    def __init__(self, log_path, delay=0.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.log = open(log_path, "a")

    async def handle_DATA(self, server, session, envelope):
        if self.delay > 0:
            # A session that dies meanwhile cancels this: nothing recorded, no 250.
            await asyncio.sleep(self.delay)
        content = envelope.original_content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        # The first Received field is the one the forwarding node prepended (unfolded here).
        m = RECEIVED_ID.search(re.sub(rb"\r\n[ \t]+", b" ", head))
        spool_id = m.group(1).decode() if m else None
        first_stage = MAILNODE_ID.match(header(content, rb"Mailnode-Id") or "")
        if first_stage:
            spool_id = first_stage.group(1)
        record = {"mid": header(content, rb"Message-ID"), "attempt": header(content, rb"X-Crash-Attempt"),
                  "spool_id": spool_id, "size": len(content),
                  "rcpt": envelope.rcpt_tos}
        with self.lock:
            self.log.write(json.dumps(record) + "\n")
            self.log.flush()
            os.fsync(self.log.fileno())
        return "250 2.0.0 Stored"


def main():
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each message is recorded")
    args = p.parse_args()
    controller = Controller(Handler(args.log, args.delay), hostname="127.0.0.1", port=args.port,
                            server_hostname="sink.crash.test", decode_data=False)
    controller.start()
    with open(os.path.join(args.dir, ".ready"), "w") as f:
        f.write(str(os.getpid()))
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
