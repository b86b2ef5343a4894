#!/usr/bin/env python3
"""dkimpy as the outside DKIM implementation for mailnode's cross-signing tests.

  dkim_tool.py verify MANIFEST   -> prints JSON {id: [true|false per DKIM-Signature, top first]}
  dkim_tool.py sign MANIFEST     -> signs each item's input into its output file, prints "OK n"

MANIFEST is JSON:
  {"keys": {"sel._domainkey.example.com": "v=DKIM1; k=rsa; p=..."},   # DNS TXT answers
   "items": [{"id": "m1", "in": "/path/msg", "out": "/path/signed",      # "out" for sign only
              "domain": "example.com", "selector": "sel", "key": "/path/key",
              "algorithm": "rsa-sha256" | "ed25519-sha256", "canonicalization": "relaxed/simple"}]}
No network: key look-ups are answered from "keys" only.
"""
import json
import sys

import dkim


def main():
    mode, manifest_path = sys.argv[1], sys.argv[2]
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    keys = {name.rstrip(".").lower(): record for name, record in manifest.get("keys", {}).items()}

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        record = keys.get(name.rstrip(".").lower())
        return record.encode() if record is not None else None

    if mode == "verify":
        results = {}
        for item in manifest["items"]:
            with open(item["in"], "rb") as handle:
                message = handle.read()
            checker = dkim.DKIM(message, minkey=1024)
            count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
            outcome = []
            for index in range(count):
                try:
                    outcome.append(bool(checker.verify(idx=index, dnsfunc=dnsfunc)))
                except Exception:  # dkimpy raises on malformed input; that is a failure here
                    outcome.append(False)
            results[item["id"]] = outcome
        print(json.dumps(results))
    elif mode == "sign":
        for item in manifest["items"]:
            with open(item["in"], "rb") as handle:
                message = handle.read()
            with open(item["key"], "rb") as handle:
                key = handle.read()
            header, body = item.get("canonicalization", "relaxed/simple").split("/")
            signature = dkim.sign(
                message, item["selector"].encode(), item["domain"].encode(), key,
                canonicalize=(header.encode(), body.encode()),
                signature_algorithm=item["algorithm"].encode(),
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
            )
            with open(item["out"], "wb") as handle:
                handle.write(signature + message)
        print("OK", len(manifest["items"]))
    else:
        sys.exit("usage: dkim_tool.py verify|sign MANIFEST")


if __name__ == "__main__":
    main()
