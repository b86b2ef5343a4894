#!/usr/bin/env python3
"""A real SMTP/LMTP peer for the mailnode client tests, built on aiosmtpd.

Every accepted message is written to --dir as a pair:
  NNNN.json  envelope and session facts (mail_from, rcpt_tos, options, helo, tls, auth)
  NNNN.eml   the message bytes exactly as the server received them (after dot-unstuffing)
When the listener is up, --dir/.ready is created.

Options beyond plain aiosmtpd (whose SMTP engine does all the protocol work):
  --pipelining          announce PIPELINING (aiosmtpd reads commands in order anyway)
  --chunking            announce CHUNKING and accept BDAT (RFC 3030) -- aiosmtpd 1.4 has no
                        BDAT, and Postfix's smtp-sink 3.7 does not offer it either, so this
                        small extension is what lets the client's BDAT path meet a peer.
  --reject ADDR         answer RCPT for ADDR with 550 5.1.1 (repeatable)
  --tempfail ADDR       answer RCPT for ADDR with 450 4.2.1 (repeatable)
  --lmtp-fail ADDR      (LMTP) after the data, answer 552 5.2.2 for ADDR (repeatable)
  --tls-cert/--tls-key  offer STARTTLS
  --auth USER:PASS      offer AUTH PLAIN/LOGIN (only after TLS unless --auth-plaintext)
  --lmtp                speak LMTP (LHLO, one reply per recipient after the data)
  --size N              announce SIZE N and enforce it (default: aiosmtpd's 32 MiB)
  --smtputf8            announce SMTPUTF8
  --dsn                 announce DSN (RFC 3461) and take RET/ENVID on MAIL and NOTIFY/ORCPT on
                        RCPT -- aiosmtpd 1.4 answers 555 to any parameter it does not know and
                        upper-cases the others, so these are taken off the line first, exactly as
                        sent, and stored as dsn_mail / dsn_rcpt ([address, params...] per
                        accepted recipient). Without --dsn such parameters get aiosmtpd's 555.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class ChunkingMixin:
    """BDAT <size> [LAST] (RFC 3030 §2) on top of aiosmtpd's SMTP/LMTP classes."""

    async def smtp_BDAT(self, arg):
        if await self.check_helo_needed():
            return
        words = (arg or "").split()
        if not words or not words[0].isdigit() or len(words) > 2 or (
                len(words) == 2 and words[1].upper() != "LAST"):
            await self.push("501 5.5.4 Syntax: BDAT <size> [LAST]")
            return
        size = int(words[0])
        last = len(words) == 2
        data = await self._reader.readexactly(size)
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        buffered = getattr(self, "_bdat_data", bytearray())
        buffered += data
        self._bdat_data = buffered
        if not last:
            await self.push(f"250 2.0.0 {size} octets received")
            return
        self._bdat_data = bytearray()
        self.envelope.content = bytes(buffered)
        self.envelope.original_content = bytes(buffered)
        self.envelope.bdat = True
        status = await self._call_handler_hook("DATA")
        await self.push(status)
        self._set_post_data_state()


class DSNMixin:
    """DSN parameters (RFC 3461 §4) on top of aiosmtpd's SMTP/LMTP classes."""

    MAIL_PARAMS = ("RET", "ENVID")
    RCPT_PARAMS = ("NOTIFY", "ORCPT")

    @staticmethod
    def _take(arg, names):
        """Splits 'FROM:<a@b> SIZE=1 RET=HDRS' into the line without `names` and those taken."""
        end = (arg or "").find(">")
        if end < 0:
            return arg, []
        kept, taken = [], []
        for word in arg[end + 1:].split():
            (taken if word.split("=", 1)[0].upper() in names else kept).append(word)
        return " ".join([arg[:end + 1]] + kept), taken

    async def smtp_MAIL(self, arg):
        line, taken = self._take(arg, self.MAIL_PARAMS)
        self.dsn_mail = taken
        self.dsn_rcpt = []
        await super().smtp_MAIL(line)

    async def smtp_RCPT(self, arg):
        line, taken = self._take(arg, self.RCPT_PARAMS)
        before = len(self.envelope.rcpt_tos)
        await super().smtp_RCPT(line)
        if len(self.envelope.rcpt_tos) > before:
            self.dsn_rcpt.append([self.envelope.rcpt_tos[-1]] + taken)


class Handler:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        extra = []
        if self.args.pipelining:
            extra.append("250-PIPELINING")
        if self.args.chunking:
            extra.append("250-CHUNKING")
        if self.args.dsn:
            extra.append("250-DSN")
        # Keep the final "250 HELP" line last.
        return responses[:-1] + extra + responses[-1:]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.args.reject:
            return "550 5.1.1 No such user here"
        if address in self.args.tempfail:
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            number = self.count
        base = os.path.join(self.args.dir, f"{number:04d}")
        content = envelope.original_content or b""
        with open(base + ".eml", "wb") as f:
            f.write(content)
        facts = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "helo": session.host_name,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "login": session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword) else None,
            "bdat": getattr(envelope, "bdat", False),
            "size": len(content),
            "dsn_mail": getattr(server, "dsn_mail", []),
            "dsn_rcpt": getattr(server, "dsn_rcpt", []),
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(facts, f)
        os.rename(base + ".json.tmp", base + ".json")
        if self.args.lmtp:
            lines = []
            for rcpt in envelope.rcpt_tos:
                if rcpt in self.args.lmtp_fail:
                    lines.append(f"552 5.2.2 <{rcpt}> Mailbox full")
                else:
                    lines.append(f"250 2.0.0 <{rcpt}> Delivered")
            return "\r\n".join(lines)
        return "250 2.0.0 Message accepted"


class SinkController(Controller):
    def __init__(self, handler, args, **kwargs):
        self.args = args
        bases = [ChunkingMixin] if args.chunking else []
        if args.dsn:
            bases.append(DSNMixin)
        bases.append(LMTP if args.lmtp else SMTP)
        self.server_class = type("SinkServer", tuple(bases), {}) if len(bases) > 1 else bases[0]
        super().__init__(handler, **kwargs)

    def factory(self):
        return self.server_class(self.handler, **self.SMTP_kwargs)


def main():
    # A parent may start us with SIGTERM ignored; make it terminate again.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--pipelining", action="store_true")
    parser.add_argument("--chunking", action="store_true")
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tempfail", action="append", default=[])
    parser.add_argument("--lmtp-fail", action="append", default=[])
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--auth")
    parser.add_argument("--auth-plaintext", action="store_true")
    parser.add_argument("--lmtp", action="store_true")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--smtputf8", action="store_true")
    parser.add_argument("--dsn", action="store_true")
    args = parser.parse_args()

    kwargs = {
        "hostname": "127.0.0.1",
        "port": args.port,
        "server_hostname": "sink.test",
        "enable_SMTPUTF8": args.smtputf8,
        "decode_data": False,
    }
    if args.size:
        kwargs["data_size_limit"] = args.size
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        kwargs["tls_context"] = context
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        kwargs["authenticator"] = authenticator
        kwargs["auth_require_tls"] = not args.auth_plaintext
    controller = SinkController(Handler(args), args, **kwargs)
    controller.start()
    with open(os.path.join(args.dir, ".ready"), "w") as f:
        f.write(str(os.getpid()))
    sys.stdout.flush()
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
