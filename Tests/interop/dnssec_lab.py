#!/usr/bin/env python3
"""A DNSSEC-signed loopback DNS for mailnode's DANE tests: nsd serving zones signed with
ldns-signzone, and a validating unbound in front of it whose AD bit the resolver under test trusts.

Usage:
    dnssec_lab.py --work DIR --zone ORIGIN=FILE [--zone ...] [--unsigned ORIGIN=FILE ...]
                  [--tamper OWNER ...]

Each --zone is signed (one ECDSA P-256 key, ldns-keygen -k, NSEC) and its DS becomes a trust
anchor of unbound; --unsigned zones are served as they are (unbound sees them as insecure, having
no anchor for them). --tamper OWNER changes the RDATA of the records at OWNER *after* signing, so
their signature no longer verifies: unbound answers SERVFAIL (bogus), as it would for forged data.

Both daemons listen on free loopback ports and run in the foreground as the current user, with
every file under DIR. When unbound answers the first zone's SOA with the AD bit set, the script
prints "READY <unbound port>" and waits; it stops both on SIGTERM/SIGINT.
Needs Debian's nsd, unbound and ldnsutils, and python3-dnslib.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time

from dnslib import DNSRecord, QTYPE


def free_port():
    """A port free for UDP and TCP on 127.0.0.1."""
    while True:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            tcp.close()
            udp.close()


def sign(work, origin, path):
    """Signs the zone at path; returns (signed file name, DS record text)."""
    name = origin.rstrip(".") + "."
    key = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], cwd=work,
                         check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["ldns-signzone", "-o", name, "-f", os.path.join(work, origin + ".signed"), path, key],
                   cwd=work, check=True, capture_output=True, text=True)
    with open(os.path.join(work, key + ".ds"), encoding="ascii") as handle:
        return origin + ".signed", handle.read().strip()


def tamper(path, owners):
    """Flips the last hex digit of every non-RRSIG record at the given owners."""
    wanted = {owner.rstrip(".").lower() + "." for owner in owners}
    lines = []
    with open(path, encoding="ascii") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) >= 5 and fields[0].lower() in wanted and fields[3] not in ("RRSIG", "NSEC", "NSEC3"):
                last = line.rstrip("\n")
                digit = last[-1]
                flipped = "0" if digit != "0" else "1"
                line = last[:-1] + flipped + "\n"
            lines.append(line)
    with open(path, "w", encoding="ascii") as handle:
        handle.writelines(lines)


def query_ad(port, name):
    """True when unbound answers NOERROR for name's SOA with AD set."""
    request = DNSRecord.question(name, "SOA")
    request.header.ad = 1
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    try:
        sock.sendto(request.pack(), ("127.0.0.1", port))
        reply = DNSRecord.parse(sock.recv(4096))
        return reply.header.rcode == 0 and reply.header.ad == 1 and any(r.rtype == QTYPE.SOA for r in reply.rr)
    except (socket.timeout, OSError):
        return False
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--zone", action="append", default=[])
    parser.add_argument("--unsigned", action="append", default=[])
    parser.add_argument("--tamper", action="append", default=[])
    args = parser.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)

    zones = []      # (origin, file served)
    anchors = []
    for spec in args.zone:
        origin, path = spec.split("=", 1)
        served, ds = sign(work, origin, os.path.abspath(path))
        zones.append((origin, served))
        anchors.append(ds)
    for spec in args.unsigned:
        origin, path = spec.split("=", 1)
        zones.append((origin, os.path.abspath(path)))
    for owner in args.tamper:
        for origin, served in zones:
            if owner.rstrip(".").endswith(origin.rstrip(".")):
                tamper(os.path.join(work, served), [owner])

    nsd_port = free_port()
    unbound_port = free_port()
    with open(os.path.join(work, "nsd.conf"), "w", encoding="ascii") as conf:
        conf.write(f"""server:
  ip-address: 127.0.0.1@{nsd_port}
  username: ""
  chroot: ""
  zonesdir: "{work}"
  database: ""
  zonelistfile: "{work}/zone.list"
  pidfile: "{work}/nsd.pid"
  xfrdfile: "{work}/xfrd.state"
  xfrdir: "{work}"
  logfile: "{work}/nsd.log"
  server-count: 1
  hide-version: yes
remote-control:
  control-enable: no
""")
        for origin, served in zones:
            conf.write(f"zone:\n  name: {origin}\n  zonefile: \"{served}\"\n")
    with open(os.path.join(work, "anchors"), "w", encoding="ascii") as handle:
        handle.write("\n".join(anchors) + "\n")
    with open(os.path.join(work, "unbound.conf"), "w", encoding="ascii") as conf:
        conf.write(f"""server:
  interface: 127.0.0.1
  port: {unbound_port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{work}"
  pidfile: ""
  use-syslog: no
  logfile: "{work}/unbound.log"
  verbosity: 1
  do-not-query-localhost: no
  module-config: "validator iterator"
  trust-anchor-file: "{work}/anchors"
  access-control: 127.0.0.0/8 allow
  harden-dnssec-stripped: yes
  root-hints: ""
  num-threads: 1
  outgoing-range: 64
remote-control:
  control-enable: no
""")
        # RFC 6761 names (test., example.) are blocked by unbound's default local zones.
        for top in sorted({origin.rstrip(".").split(".")[-1] for origin, _ in zones}):
            conf.write(f"server:\n  local-zone: \"{top}.\" nodefault\n")
        for origin, _ in zones:
            conf.write(f"stub-zone:\n  name: \"{origin}\"\n  stub-addr: 127.0.0.1@{nsd_port}\n")

    children = [
        # Each in its own process group: nsd forks server processes, and stop() must end them
        # too (the test's helper runner sends SIGKILL to this script 2 s after SIGTERM).
        subprocess.Popen(["/usr/sbin/nsd", "-d", "-c", os.path.join(work, "nsd.conf")], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "nsd.err"), "w")),
        subprocess.Popen(["/usr/sbin/unbound", "-d", "-c", os.path.join(work, "unbound.conf")], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "unbound.err"), "w")),
    ]

    def signal_group(child, number):
        try:
            os.killpg(child.pid, number)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(*_):
        for child in children:
            signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + 1
        for child in children:
            try:
                child.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for child in children:   # whatever is left of each group, forked children included
            signal_group(child, signal.SIGKILL)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # A test process may spawn this script with SIGTERM blocked (the mask is inherited): then the
    # handler never ran, the runner's SIGKILL followed, and nsd and unbound outlived the test.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    first = zones[0][0]
    deadline = time.monotonic() + 50
    while not query_ad(unbound_port, first):
        if any(child.poll() is not None for child in children) or time.monotonic() > deadline:
            sys.stderr.write("dnssec_lab: unbound did not validate %s; see %s\n" % (first, work))
            stop()
        time.sleep(0.2)
    print(f"READY {unbound_port}", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
