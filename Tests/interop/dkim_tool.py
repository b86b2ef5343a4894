#!/usr/bin/env python3
"""dkimpy as the outside DKIM implementation for mailnode's cross-signing tests.

  dkim_tool.py verify MANIFEST   -> prints JSON {id: [true|false per DKIM-Signature, top first]}
  dkim_tool.py sign MANIFEST     -> signs each item's input into its output file, prints "OK n"
  dkim_tool.py arc-verify MANIFEST -> prints JSON {id: "pass"|"fail"|"none"|null} (dkimpy's cv; null:
                                      the newest seal said cv=fail, dkimpy's "chain terminated")
  dkim_tool.py arc-sign MANIFEST   -> for each item, "hops" times: adds
                                      "Authentication-Results: <srv_id>; spf=pass ...[; arc=pass]" and an
                                      ARC set by dkimpy's arc_sign (needs python3-authres); the A-R field is
                                      removed again, the sealed message written to "out"; prints "OK n"

MANIFEST is JSON:
  {"keys": {"sel._domainkey.example.com": "v=DKIM1; k=rsa; p=..."},   # DNS TXT answers
   "items": [{"id": "m1", "in": "/path/msg", "out": "/path/signed",      # "out" for sign only
              "domain": "example.com", "selector": "sel", "key": "/path/key",
              "algorithm": "rsa-sha256" | "ed25519-sha256", "canonicalization": "relaxed/simple",
              "hops": 2}]}                                                         # arc-sign only
No network: key look-ups are answered from "keys" only -- unless the manifest has
  "dns": "127.0.0.1:PORT": then dkimpy asks that DNS server (dnspython), as it would in production.
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

    if "dns" in manifest:
        import dns.resolver

        host, port = manifest["dns"].rsplit(":", 1)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = int(port)

        def dnsfunc(name, timeout=5):  # noqa: F811 -- the live DNS replaces the table
            if isinstance(name, bytes):
                name = name.decode()
            try:
                answer = resolver.resolve(name, "TXT", lifetime=timeout)
            except Exception:
                return None
            return b"".join(b"".join(rdata.strings) for rdata in answer[:1])

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
    elif mode == "arc-verify":
        results = {}
        for item in manifest["items"]:
            with open(item["in"], "rb") as handle:
                message = handle.read()
            try:
                cv, _, _ = dkim.arc_verify(message, dnsfunc=dnsfunc)
            except Exception:  # malformed input is a failed chain here
                cv = b"fail"
            results[item["id"]] = cv.decode() if cv is not None else None
        print(json.dumps(results))
    elif mode == "arc-sign":
        for item in manifest["items"]:
            with open(item["in"], "rb") as handle:
                message = handle.read()
            with open(item["key"], "rb") as handle:
                key = handle.read()
            for hop in range(1, item.get("hops", 1) + 1):
                srv_id = ("hop%d.%s" % (hop, item["domain"])).encode()
                results = b"spf=pass smtp.mailfrom=example.com" + (b"; arc=pass" if hop > 1 else b"")
                ar = b"Authentication-Results: " + srv_id + b"; " + results + b"\r\n"
                fields = dkim.arc_sign(
                    ar + message, item["selector"].encode(), item["domain"].encode(), key, srv_id,
                    signature_algorithm=item.get("algorithm", "rsa-sha256").encode(), timestamp=1700000000 + hop)
                if not fields:
                    sys.exit("arc_sign returned nothing for %s hop %d" % (item["id"], hop))
                message = b"".join(fields) + message
            with open(item["out"], "wb") as handle:
                handle.write(message)
        print("OK", len(manifest["items"]))
    else:
        sys.exit("usage: dkim_tool.py verify|sign|arc-verify|arc-sign MANIFEST")


if __name__ == "__main__":
    main()
