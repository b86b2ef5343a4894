#!/usr/bin/env python3
"""Drives mailnode's store role as its peers do: LMTP delivery (smtplib.LMTP, per-recipient
replies read by hand: smtplib's sendmail reads only one reply after DATA) and POP3 retrieval
with poplib over implicit TLS (POP3_SSL) or STLS. Prints one JSON object on stdout.

  store_client.py lmtp HOST PORT --sender S --to A,B --message FILE
  store_client.py fetch HOST PORT --mode ssl|stls --cafile CA --user U --password P [--delete]
  store_client.py probe HOST PORT --cafile CA --user U --password P   (plaintext refusals, bad commands)
"""
import argparse
import base64
import json
import poplib
import smtplib
import socket
import ssl
import sys


def lmtp(args):
    with open(args.message, "rb") as handle:
        message = handle.read()
    client = smtplib.LMTP(args.host, args.port, timeout=30)
    code, _ = client.ehlo("antispam.example.test")
    out = {"lhlo": code, "rcpt": [], "data": []}
    client.mail(args.sender)
    accepted = 0
    for recipient in args.to.split(","):
        code, text = client.rcpt(recipient)
        out["rcpt"].append([code, text.decode(errors="replace")])
        if code == 250:
            accepted += 1
    if accepted:
        code, text = client.data(message)
        out["data"].append([code, text.decode(errors="replace")])
        for _ in range(accepted - 1):
            code, text = client.getreply()
            out["data"].append([code, text.decode(errors="replace")])
    client.quit()
    return out


def tls_context(cafile):
    context = ssl.create_default_context(cafile=cafile)
    return context


def connect(args):
    if args.mode == "ssl":
        return poplib.POP3_SSL(args.host, args.port, timeout=30, context=tls_context(args.cafile))
    client = poplib.POP3(args.host, args.port, timeout=30)
    client.stls(context=tls_context(args.cafile))
    return client


def fetch(args):
    client = connect(args)
    out = {"welcome": client.getwelcome().decode(), "capa": sorted(client.capa().keys())}
    client.user(args.user)
    out["pass"] = client.pass_(args.password).decode()
    count, size = client.stat()
    out["stat"] = [count, size]
    out["list"] = [line.decode() for line in client.list()[1]]
    out["uidl"] = [line.decode() for line in client.uidl()[1]]
    out["messages"] = []
    for number in range(1, count + 1):
        _, lines, octets = client.retr(number)
        raw = b"\r\n".join(lines) + b"\r\n"
        out["messages"].append(base64.b64encode(raw).decode())
    if count:
        out["top"] = base64.b64encode(b"\r\n".join(client.top(1, 1)[1]) + b"\r\n").decode()
    if args.delete:
        for number in range(1, count + 1):
            client.dele(number)
    out["quit"] = client.quit().decode()
    return out


def command(client, line):
    """One command; -ERR comes back as text instead of an exception."""
    try:
        return client._shortcmd(line).decode()
    except poplib.error_proto as error:
        return error.args[0].decode() if isinstance(error.args[0], bytes) else str(error.args[0])


def probe(args):
    out = {}
    client = poplib.POP3(args.host, args.port, timeout=30)
    out["capa_plain"] = sorted(client.capa().keys())
    out["user_plain"] = command(client, "USER " + args.user)
    out["pass_plain"] = command(client, "PASS " + args.password)
    out["auth_plain"] = command(client, "AUTH PLAIN " + base64.b64encode(b"\0" + args.user.encode() + b"\0" + args.password.encode()).decode())
    client.stls(context=tls_context(args.cafile))
    out["capa_tls"] = sorted(client.capa().keys())
    out["bad"] = [command(client, line) for line in ["HELO there", "RETR 1", "X" * 3000, "LIST x y z", ""]]
    out["user_after_bad"] = command(client, "USER " + args.user)
    out["wrong_pass"] = command(client, "PASS not-the-password")
    client.user(args.user)
    out["pass"] = client.pass_(args.password).decode()
    out["bad_in_transaction"] = [command(client, line) for line in ["RETR 999", "DELE 0", "TOP 1", "STLS", "FOO"]]
    # Pipelined commands (RFC 2449 PIPELINING) in one write: every one answered, in order.
    client.sock.sendall(b"NOOP\r\n" * 200 + b"RETR 1\r\nNOOP\r\n")
    oks = sum(1 for _ in range(200) if client.file.readline().startswith(b"+OK"))
    retr = client.file.readline().startswith(b"+OK")
    while client.file.readline() not in (b".\r\n", b""):
        pass
    out["pipelined"] = [oks, retr, client.file.readline().startswith(b"+OK")]
    out["stat"] = list(client.stat())
    # A second session of the same user while this one holds the maildrop.
    second = poplib.POP3_SSL(args.host, args.ssl_port, timeout=30, context=tls_context(args.cafile)) if args.ssl_port else None
    if second:
        second.user(args.user)
        out["second_login"] = command(second, "PASS " + args.password)
        second.quit()
    out["quit"] = client.quit().decode()
    # AUTH PLAIN over implicit TLS.
    if args.ssl_port:
        third = poplib.POP3_SSL(args.host, args.ssl_port, timeout=30, context=tls_context(args.cafile))
        token = base64.b64encode(b"\0" + args.user.encode() + b"\0" + args.password.encode()).decode()
        out["auth_plain_tls"] = command(third, "AUTH PLAIN " + token)
        out["auth_stat"] = command(third, "STAT")
        third.quit()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["lmtp", "fetch", "probe"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--sender", default="sender@example.net")
    parser.add_argument("--to", default="")
    parser.add_argument("--message")
    parser.add_argument("--mode", default="ssl")
    parser.add_argument("--cafile")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--delete", action="store_true")
    parser.add_argument("--ssl-port", type=int, default=0)
    args = parser.parse_args()
    try:
        result = {"lmtp": lmtp, "fetch": fetch, "probe": probe}[args.action](args)
    except (OSError, poplib.error_proto, smtplib.SMTPException, ssl.SSLError) as error:
        print(json.dumps({"error": repr(error)}))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
