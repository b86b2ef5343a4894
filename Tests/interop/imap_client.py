#!/usr/bin/env python3
"""Drives mailnode's store role over IMAP as a mail program does, with Python's imaplib over
implicit TLS (IMAP4_SSL) or STARTTLS. Prints one JSON object on stdout; message octets base64.

  imap_client.py session HOST PORT --mode ssl|starttls --cafile CA --user U --password P
                 --lmtp-port N --rcpt ADDR --message FILE
    login, list, select, FETCH BODYSTRUCTURE / BODY[] / partial / sections, flags, search,
    append, copy, move, expunge, GETQUOTAROOT, and IDLE receiving EXISTS while this script
    delivers FILE over LMTP (smtplib.LMTP) to ADDR.
  imap_client.py fetch HOST PORT --mode ssl|starttls --cafile CA --user U --password P
    every INBOX message's BODY.PEEK[] (EXAMINE: nothing changes).
  imap_client.py probe HOST PORT --cafile CA --user U --password P
    plaintext refusals, malformed commands answered BAD on a session that goes on.
"""
import argparse
import base64
import json
import imaplib
import smtplib
import socket
import ssl
import sys


def b64(data):
    return base64.b64encode(data).decode()


def text(data):
    return [item.decode(errors="replace") if isinstance(item, bytes) else repr(item) for item in data]


def literal_of(response):
    """The literal octets of the first FETCH item in an imaplib fetch response."""
    for item in response:
        if isinstance(item, tuple):
            return item[1]
    return b""


def connect(args):
    context = ssl.create_default_context(cafile=args.cafile)
    if args.mode == "ssl":
        return imaplib.IMAP4_SSL(args.host, args.port, ssl_context=context, timeout=30), None
    client = imaplib.IMAP4(args.host, args.port, timeout=30)
    before = sorted(client.capabilities)
    client.starttls(ssl_context=context)
    return client, before


def status(client, *command):
    """One command through imaplib; a NO/BAD comes back as ["NO ..."] instead of an exception."""
    try:
        typ, data = client._simple_command(*command)
        return [typ] + text(data)
    except (imaplib.IMAP4.error, imaplib.IMAP4.abort) as error:
        return ["ERROR", str(error)]


def lmtp(port, rcpt, message):
    client = smtplib.LMTP("127.0.0.1", port, timeout=30)
    client.ehlo("antispam.example.test")
    client.mail("sender@example.net")
    client.rcpt(rcpt)
    code, _ = client.data(message)
    client.quit()
    return code


def idle(client, args, message):
    """RFC 2177 by hand (imaplib has no IDLE before 3.14)."""
    tag = client._new_tag()
    client.send(tag + b" IDLE\r\n")
    continuation = client.readline()
    delivered = lmtp(args.lmtp_port, args.rcpt, message)
    seen = []
    while True:
        line = client.readline()
        seen.append(line.decode(errors="replace").rstrip())
        if line.rstrip().endswith(b"EXISTS") or not line:
            break
    client.send(b"DONE\r\n")
    while True:
        line = client.readline()
        seen.append(line.decode(errors="replace").rstrip())
        if line.startswith(tag) or not line:
            break
    return {"continuation": continuation.decode().rstrip(), "lmtp": delivered, "lines": seen}


def session(args):
    with open(args.message, "rb") as handle:
        message = handle.read()
    client, before = connect(args)
    out = {"capability_before_tls": before, "capability": sorted(client.capabilities)}
    out["login"] = text(client.login(args.user, args.password)[1])
    out["list"] = text(client.list()[1])
    out["list_special"] = text(client.list('""', "*")[1])
    typ, data = client.select("INBOX")
    out["select"] = [typ] + text(data)
    count = int(data[0])
    out["exists"] = count
    out["uidvalidity"] = text(client.response("UIDVALIDITY")[1])
    out["bodystructure"] = text(client.fetch("1", "(BODYSTRUCTURE)")[1])
    out["envelope"] = text(client.fetch("1", "(ENVELOPE)")[1])
    out["body"] = b64(literal_of(client.fetch("1", "(BODY.PEEK[])")[1]))
    out["partial"] = b64(literal_of(client.fetch("1", "(BODY.PEEK[]<10.25>)")[1]))
    out["part1"] = b64(literal_of(client.fetch("1", "(BODY.PEEK[1])")[1]))
    out["part2"] = b64(literal_of(client.fetch("1", "(BODY.PEEK[2])")[1]))
    out["part2_mime"] = b64(literal_of(client.fetch("1", "(BODY.PEEK[2.MIME])")[1]))
    out["header_fields"] = b64(literal_of(client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])")[1]))
    out["flags_before"] = text(client.fetch("1", "(FLAGS)")[1])
    out["text"] = b64(literal_of(client.fetch("1", "(BODY[TEXT])")[1]))   # not PEEK: sets \Seen
    out["flags_after_body"] = text(client.fetch("1", "(FLAGS)")[1])
    out["store"] = text(client.store("1", "+FLAGS", "(\\Flagged)")[1])
    out["search_flagged"] = text(client.search(None, "FLAGGED")[1])
    out["search_unseen"] = text(client.search(None, "UNSEEN")[1])
    out["search_subject"] = text(client.search(None, "SUBJECT", '"multipart test"')[1])
    out["search_body"] = text(client.search(None, "BODY", "alice,")[1])
    out["search_or"] = text(client.search(None, "OR", "FLAGGED", "LARGER", "100000000")[1])
    out["search_not"] = text(client.search(None, "NOT", "SEEN")[1])
    out["uid_search"] = text(client.uid("SEARCH", None, "ALL")[1])
    draft = b"From: alice@example.test\r\nSubject: draft\r\n\r\nappended by imaplib\r\n"
    typ, data = client.append("Drafts", "(\\Draft)", None, draft)
    out["append"] = [typ] + text(data)
    out["append_code"] = text(client.response("APPENDUID")[1])
    work = "Work/" + args.mode
    out["create"] = text(client.create(work)[1])
    out["list_work"] = text(client.list('""', "Work/*")[1])
    typ, data = client.uid("COPY", "1:*", work)
    out["copy"] = [typ] + text(data)
    out["copy_code"] = text(client.response("COPYUID")[1])
    out["status_work"] = text(client.status(work, "(MESSAGES UIDNEXT UNSEEN)")[1])
    out["move"] = status(client, "MOVE", "1", "Trash")
    out["after_move"] = text(client.search(None, "ALL")[1])
    # Expunge in the work folder: append a second message, mark the first, expunge: one left.
    client.select(work)
    client.append(work, None, None, draft)
    client.noop()
    client.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = client.expunge()
    out["expunge"] = [typ] + text(data)
    out["work_after_expunge"] = text(client.search(None, "ALL")[1])
    out["work_body"] = b64(literal_of(client.fetch("1", "(BODY.PEEK[])")[1]))
    out["rename"] = text(client.rename(work, "Archive/" + args.mode)[1])
    out["list_after_rename"] = text(client.list('""', "*")[1])
    # A message over the 64 KiB literal limit: streamed into its body file, read back whole.
    big = b"Subject: big\r\n\r\n" + b"".join(b"big line %06d\r\n" % index for index in range(20000))
    typ, data = client.append("Sent", None, None, big)
    out["append_big"] = [typ] + text(data)
    typ, data = client.select("Sent", readonly=True)
    out["big_identical"] = literal_of(client.fetch(data[0].decode(), "(BODY.PEEK[])")[1]) == big
    typ, data = client.getquotaroot("INBOX")
    out["quotaroot"] = [typ] + text(data[0]) + text(data[1])
    client.select("INBOX")
    out["idle"] = idle(client, args, message)
    out["exists_after_idle"] = text(client.search(None, "ALL")[1])
    out["logout"] = client.logout()[0]
    return out


def fetch(args):
    """Every INBOX message's BODY.PEEK[] (the literal as imaplib read it)."""
    client, _ = connect(args)
    client.login(args.user, args.password)
    typ, data = client.select("INBOX", readonly=True)
    out = {"messages": []}
    for number in range(1, int(data[0]) + 1):
        out["messages"].append(b64(literal_of(client.fetch(str(number), "(BODY.PEEK[])")[1])))
    out["logout"] = client.logout()[0]
    return out


def probe(args):
    context = ssl.create_default_context(cafile=args.cafile)
    out = {}
    client = imaplib.IMAP4(args.host, args.port, timeout=30)
    out["capability_plain"] = sorted(client.capabilities)
    out["login_plain"] = status(client, "LOGIN", args.user, client._quote(args.password))
    out["auth_plain"] = status(client, "AUTHENTICATE", "PLAIN", b64(b"\0" + args.user.encode() + b"\0" + args.password.encode()))
    client.starttls(ssl_context=context)
    out["capability_tls"] = text(client.capability()[1])
    out["wrong_password"] = status(client, "LOGIN", args.user, client._quote("not the password"))
    client.login(args.user, args.password)
    sock = client.sock

    def raw(data, replies=1, untagged=False):
        """Sends octets as they are; returns the next tagged (or continuation) lines."""
        sock.sendall(data)
        lines = []
        while len(lines) < replies:
            line = client.readline()
            if not line:
                break
            if untagged or not line.startswith(b"*"):
                lines.append(line.decode(errors="replace").rstrip())
        return lines

    out["unbalanced"] = raw(b"b1 FETCH 1 (FLAGS\r\n")
    out["nested"] = raw(b"b2 SEARCH " + b"(" * 10000 + b"ALL" + b")" * 10000 + b"\r\n")
    out["bad_utf7"] = raw(b"b3 SELECT &Jjo\r\n")
    out["bad_utf7_create"] = raw(b"b4 CREATE \"&AGEAYgBj-\"\r\n")
    out["huge_literal"] = raw(b"b5 APPEND INBOX {99999999999}\r\n")
    out["huge_nonsync"] = raw(b"b6 LOGIN {100000+}\r\n" + b"x" * 100000 + b" y\r\n")
    out["long_line"] = raw(b"b7 NOOP " + b"x" * 70000 + b"\r\n")
    out["unknown"] = raw(b"b8 FROB\r\n")
    out["no_tag"] = raw(b"\r\n", untagged=True)
    out["literal_plus"] = raw(b"b9 SELECT {5+}\r\nINBOX\r\n")
    out["literal_sync"] = raw(b"b10 STATUS {5}\r\n", replies=1)
    out["literal_sync_rest"] = raw(b"INBOX (MESSAGES)\r\n")
    out["still_alive"] = raw(b"b11 NOOP\r\n")
    out["append_nonsync"] = raw(b"b12 APPEND Drafts {70000+}\r\nSubject: x\r\n\r\n" + b"y" * 69986 + b"\r\n")
    out["logout"] = client.logout()[0]
    out["injection"] = injection(args, context)
    return out


def injection(args, context):
    """Plaintext pipelined behind STARTTLS must be dropped, never run after the handshake."""
    raw_socket = socket.create_connection((args.host, args.port), timeout=30)
    plain = raw_socket.makefile("rb")
    plain.readline()
    raw_socket.sendall(b"s1 STARTTLS\r\ns2 LOGIN injected secret\r\n")
    replies = [plain.readline().decode().rstrip()]
    tls = context.wrap_socket(raw_socket, server_hostname=args.host)
    tls.sendall(b"s3 NOOP\r\n")
    secure = tls.makefile("rb")
    while True:
        line = secure.readline()
        replies.append(line.decode(errors="replace").rstrip())
        if not line or line.startswith(b"s3 "):
            break
    tls.close()
    return replies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["session", "fetch", "probe"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--mode", default="ssl")
    parser.add_argument("--cafile")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--lmtp-port", type=int, default=0)
    parser.add_argument("--rcpt", default="")
    parser.add_argument("--message")
    args = parser.parse_args()
    try:
        result = {"session": session, "fetch": fetch, "probe": probe}[args.action](args)
    except (OSError, imaplib.IMAP4.error, smtplib.SMTPException, ssl.SSLError, ValueError) as error:
        print(json.dumps({"error": repr(error)}))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
