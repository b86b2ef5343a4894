#!/usr/bin/env python3
"""Python's smtplib as a client of a mailnode listener (driven by SmtplibInteropTests).

Each mode does one exchange against 127.0.0.1:PORT and prints, as its last stdout line, a JSON
object with what it saw (reply codes, advertised extensions). The smtplib debug transcript goes to
stderr. Exit status 0 = the exchange went as the mode expects; 1 = it did not (reason on stderr).

  plain        --message FILE                 sendmail() of the file's bytes (CRLF, may start lines with ".")
  starttls     --message FILE --user --password
                                              STARTTLS, then login() (smtplib picks the mechanism,
                                              or --mechanism PLAIN/LOGIN), then sendmail()
  smtputf8     --expected FILE [--explicit]   send_message() of a message with non-ASCII addresses
                                              (--explicit: and mail_options=["SMTPUTF8"]); writes the
                                              bytes smtplib sends as DATA to FILE
  auth-plain-text --user --password           forces "AUTH PLAIN <b64>" over cleartext (docmd), which a
                                              listener must refuse; prints the reply code
  bdat         --chunk FILE [--chunk FILE ...] [--body BINARYMIME]
                                              CHUNKING by hand: smtplib has no BDAT, so the commands
                                              go through smtplib's socket with send()/getreply()

No DNS: local_hostname is always given (smtplib would call getfqdn() otherwise).
"""
import argparse
import base64
import copy
import email.generator
import email.message
import email.policy
import io
import json
import smtplib
import ssl
import sys

HELO = "client.test"


def connect(port):
    client = smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=10)
    client.set_debuglevel(1)  # transcript on stderr
    return client


def done(result, ok=True):
    print(json.dumps(result, ensure_ascii=False))
    sys.exit(0 if ok else 1)


def fail(why, result):
    print("FAIL: " + why, file=sys.stderr)
    done(result, ok=False)


def features(client):
    return sorted(client.esmtp_features.keys())


def mode_plain(args):
    data = open(args.message, "rb").read()
    client = connect(args.port)
    client.ehlo()
    advertised = features(client)  # quit() forgets them
    refused = client.sendmail(args.sender, [args.rcpt], data)
    client.quit()
    done({"features": advertised, "refused": list(refused)})


def unverified_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test certificate is self-issued
    return context


def mode_starttls(args):
    data = open(args.message, "rb").read()
    client = connect(args.port)
    client.ehlo()
    before = features(client)
    if "auth" in before:
        fail("AUTH advertised before TLS", {"features": before})
    code, _ = client.starttls(context=unverified_context())
    client.ehlo()
    after = features(client)
    if args.mechanism:
        client.user, client.password = args.user, args.password
        method = {"PLAIN": client.auth_plain, "LOGIN": client.auth_login}[args.mechanism]
        auth_code, _ = client.auth(args.mechanism, method)
    else:
        auth_code, _ = client.login(args.user, args.password)
    auth_methods = client.esmtp_features.get("auth", "")
    refused = client.sendmail(args.sender, [args.rcpt], data)
    client.quit()
    done({"starttls": code, "auth": auth_code, "before": before, "after": after,
          "auth_methods": auth_methods, "refused": list(refused)})


def mode_smtputf8(args):
    message = email.message.EmailMessage()
    message["From"] = "Jörg Müller <jörg@bücher.example>"
    message["To"] = "Δοκιμή <δοκιμή@παράδειγμα.δοκιμή>"
    message["Subject"] = "Grüße aus Köln"
    message.set_content("Hallo Jörg, ünïcödé im Text.\n.Zeile mit Punkt.\n")
    sender, rcpt = "jörg@bücher.example", "δοκιμή@παράδειγμα.δοκιμή"
    # The DATA bytes exactly as send_message() produces them (smtplib.SMTP.send_message:
    # Bcc removed, flattened with a UTF-8 policy and CRLF; sendmail() then only stuffs dots,
    # which the server removes again).
    copied = copy.copy(message)
    del copied["Bcc"]
    del copied["Resent-Bcc"]
    with io.BytesIO() as out:
        email.generator.BytesGenerator(out, policy=message.policy.clone(utf8=True)).flatten(copied, linesep="\r\n")
        expected = out.getvalue()
    with open(args.expected, "wb") as f:
        f.write(expected)
    client = connect(args.port)
    client.ehlo()
    if not client.has_extn("smtputf8"):
        fail("SMTPUTF8 not advertised", {"features": features(client)})
    advertised = features(client)
    # send_message() itself adds SMTPUTF8 (and BODY=8BITMIME) for non-ASCII addresses; with
    # --explicit the caller also passes mail_options=["SMTPUTF8"], as many programs do, and
    # Python then sends the keyword twice: "MAIL FROM:<...> size=N SMTPUTF8 SMTPUTF8 BODY=8BITMIME".
    options = ["SMTPUTF8"] if args.explicit else []
    refused = client.send_message(message, from_addr=sender, to_addrs=[rcpt], mail_options=options)
    client.quit()
    done({"features": advertised, "refused": list(refused)})


def mode_auth_plain_text(args):
    client = connect(args.port)
    client.ehlo()
    token = base64.b64encode(b"\0" + args.user.encode() + b"\0" + args.password.encode()).decode()
    advertised = features(client)
    code, text = client.docmd("AUTH", "PLAIN " + token)
    noop, _ = client.noop()
    client.quit()
    done({"features": advertised, "auth": code, "text": text.decode(errors="replace"), "noop": noop},
         ok=400 <= code < 600)


def mode_bdat(args):
    chunks = [open(path, "rb").read() for path in args.chunk]
    client = connect(args.port)
    client.ehlo()
    if not client.has_extn("chunking"):
        fail("CHUNKING not advertised", {"features": features(client)})
    options = ["BODY=" + args.body] if args.body else []
    code, text = client.mail(args.sender, options)
    if code != 250:
        fail("MAIL refused", {"mail": code, "text": text.decode(errors="replace")})
    code, text = client.rcpt(args.rcpt)
    if code != 250:
        fail("RCPT refused", {"rcpt": code, "text": text.decode(errors="replace")})
    replies = []
    for index, chunk in enumerate(chunks):
        last = " LAST" if index == len(chunks) - 1 else ""
        client.send(f"BDAT {len(chunk)}{last}\r\n".encode("ascii") + chunk)
        code, text = client.getreply()
        replies.append([code, text.decode(errors="replace")])
        if code != 250:
            fail("BDAT refused", {"bdat": replies})
    advertised = features(client)
    client.quit()
    done({"features": advertised, "bdat": replies})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["plain", "starttls", "smtputf8", "auth-plain-text", "bdat"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sender", default="alice@src.test")
    parser.add_argument("--rcpt", default="bob@mx.test")
    parser.add_argument("--message")
    parser.add_argument("--expected")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="")
    parser.add_argument("--mechanism", choices=["PLAIN", "LOGIN"])
    parser.add_argument("--chunk", action="append", default=[])
    parser.add_argument("--body")
    parser.add_argument("--explicit", action="store_true", help="smtputf8: also pass mail_options=[\"SMTPUTF8\"]")
    args = parser.parse_args()
    try:
        {"plain": mode_plain, "starttls": mode_starttls, "smtputf8": mode_smtputf8,
         "auth-plain-text": mode_auth_plain_text, "bdat": mode_bdat}[args.mode](args)
    except smtplib.SMTPException as error:
        fail(f"{type(error).__name__}: {error}", {"error": repr(error)})


if __name__ == "__main__":
    main()
