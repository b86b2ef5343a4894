#!/usr/bin/env python3
"""One SMTP transaction with smtplib from a chosen source address, printed as JSON.

    smtp_probe.py PORT SOURCE_IP HELO SENDER RCPT...

Prints {"greeting": code, "ehlo": code, "mail": [code, text], "rcpt": [[code, text], ...]}; the
transaction stops after a refused MAIL. Used by the mx process tests to connect from 127.0.0.2
(the RFC 5782 test point a DNS list must list) as well as from 127.0.0.1.
"""
import json
import smtplib
import sys


def main():
    port, source, helo, sender, recipients = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    out = {}
    client = smtplib.SMTP(local_hostname=helo, source_address=(source, 0), timeout=30)
    code, _ = client.connect("127.0.0.1", port)
    out["greeting"] = code
    if code == 220:
        out["ehlo"] = client.ehlo()[0]
        code, text = client.mail(sender)
        out["mail"] = [code, text.decode(errors="replace")]
        out["rcpt"] = []
        if code == 250:
            for recipient in recipients:
                code, text = client.rcpt(recipient)
                out["rcpt"].append([code, text.decode(errors="replace")])
    try:
        client.quit()
    except smtplib.SMTPException:
        pass
    print(json.dumps(out))


if __name__ == "__main__":
    main()
