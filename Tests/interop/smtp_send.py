#!/usr/bin/env python3
"""Sends one message file through smtplib and prints the DATA reply as JSON:
smtp_send.py PORT HELO SENDER RECIPIENT FILE  ->  {"data": [code, "text"]}
(used by the mailnode process tests; a refusal at DATA is a result, not an error)."""
import json
import smtplib
import sys

port, helo, sender, recipient, path = sys.argv[1:6]
message = open(path, "rb").read()
client = smtplib.SMTP("127.0.0.1", int(port), timeout=60)
client.ehlo(helo)
client.mail(sender)
client.rcpt(recipient)
try:
    code, text = client.data(message)
except smtplib.SMTPDataError as error:
    code, text = error.smtp_code, error.smtp_error
print(json.dumps({"data": [code, text.decode("utf-8", "replace")]}))
client.quit()
