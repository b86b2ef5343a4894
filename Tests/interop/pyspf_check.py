#!/usr/bin/env python3
"""Evaluates SPF cases with pyspf against one DNS server, for mailnode's pyspf cross-check
(Tests/DefensesTests/SPF/SPFCrossCheckTests.swift).

Usage:
    pyspf_check.py --dns 127.0.0.1:PORT --cases cases.json

cases.json is a list of {"id", "ip", "sender", "helo"} (sender "" = the null reverse-path, checked
as postmaster@<helo>, RFC 7208 §2.4). Prints one JSON list of {"id", "result", "explanation"} on
standard output, in the order of the cases.

pyspf (Debian python3-spf 2.0.14, or pip pyspf) must use dnspython (python3-dnspython), whose
default resolver is pointed at the given server: no search list, no /etc/resolv.conf.
"""

import argparse
import json
import sys

try:
    import dns.resolver
    import spf
except ImportError as error:  # reported to the test, which names the packages
    sys.stderr.write("pyspf_check.py needs pyspf with dnspython: apt-get install python3-spf python3-dnspython "
                     "(or pip install pyspf dnspython): %s\n" % error)
    sys.exit(3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dns", required=True, help="host:port of the DNS server")
    parser.add_argument("--cases", required=True)
    args = parser.parse_args()

    if spf.DNSLookup is not spf.DNSLookup_dnspython:
        sys.stderr.write("pyspf_check.py: pyspf is using pydns, not dnspython; install python3-dnspython\n")
        sys.exit(3)
    host, port = args.dns.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host.strip("[]")]
    resolver.port = int(port)
    resolver.timeout = 2.0
    resolver.lifetime = 4.0
    resolver.search = []
    dns.resolver.default_resolver = resolver

    with open(args.cases, encoding="utf-8") as handle:
        cases = json.load(handle)
    results = []
    for case in cases:
        # check2's evaluation (RFC 7208 check_host for the MAIL FROM identity, or the HELO one
        # for a null sender), keeping the explanation of a fail.
        query = spf.query(i=case["ip"], s=case["sender"], h=case["helo"], querytime=20)
        result, _, explanation = query.check()
        results.append({"id": case["id"], "result": result, "explanation": explanation})
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
