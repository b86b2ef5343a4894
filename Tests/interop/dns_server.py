#!/usr/bin/env python3
"""A small authoritative DNS server for mailnode's resolver tests (dnslib, Debian python3-dnslib).

It serves the zone files (*.zone) of a directory over UDP and TCP on one loopback port and can
misbehave on purpose, per name, so a client's error paths can be tested against real sockets.

Usage:
    dns_server.py --zones Fixtures/dns [--address 127.0.0.1] [--port 0] [--log FILE]

With --port 0 (the default) it picks a free port that is free for both UDP and TCP. When it is
ready it prints one line, "READY <port>", on standard output. It stops on SIGTERM/SIGINT.

Authoritative behaviour (RFC 1034 §4.3.2, simplified: no wildcards, no delegations):
- the zone is the served origin that is the longest suffix of the query name; none: REFUSED;
- a CNAME at the name is followed while its target stays inside the same zone (as nsd does),
  so a chain that leaves the zone ends at the CNAME and the client has to ask again;
- no such name (and no name below it): NXDOMAIN; a name without the type (or an empty
  non-terminal): NOERROR with no answer (NODATA); both carry the zone's SOA in the authority
  section with TTL min(SOA TTL, SOA MINIMUM) (RFC 2308 §3);
- UDP answers larger than the client's limit (512 bytes, or its EDNS0 size, RFC 6891 §6.2.5) are
  sent empty with TC set (RFC 1035 §4.2.1); TCP answers are always complete (RFC 7766).

Misbehaviour: `behaviours.conf` in the zone directory, lines of "<name> <behaviour> [arg]":
    servfail       answer SERVFAIL (RCODE 2)
    refused        answer REFUSED (RCODE 5)
    silent         never answer, over UDP or TCP
    truncate       always set TC over UDP (the full answer only over TCP)
    spoof          over UDP, first send a reply with a wrong ID and one with a wrong question,
                   then the real reply
    ad             set the AD bit (as a validating resolver would, RFC 4035 §3.2.3)
    formerr-edns   answer FORMERR to queries carrying an OPT record (an old server)
    delay <ms>     wait before answering

Every query received is logged as one line "<transport> <qname> <qtype> <edns-size|-> <do|->"
to the --log file (flushed at once), so tests can count what reached the server.
"""

import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time

try:
    from dnslib import CLASS, EDNS0, DNSRecord, QTYPE, RCODE, RR
except ImportError:  # pragma: no cover - reported to the test, which names the package
    sys.stderr.write("dns_server.py needs dnslib: apt-get install python3-dnslib (or pip install dnslib)\n")
    sys.exit(3)


def norm(name):
    """Lower-case text form of a name without the trailing dot ('' for the root)."""
    text = str(name).lower()
    return text[:-1] if text.endswith(".") else text


class Zone:
    def __init__(self, origin):
        self.origin = origin
        self.records = {}  # name -> list of RR
        self.soa = None

    def add(self, rr):
        name = norm(rr.rname)
        self.records.setdefault(name, []).append(rr)
        if rr.rtype == QTYPE.SOA and name == self.origin:
            self.soa = rr

    def name_exists(self, name):
        if name in self.records:
            return True
        suffix = "." + name
        return any(other.endswith(suffix) for other in self.records)

    def negative_soa(self):
        """The SOA for the authority section of a negative answer (RFC 2308 §3)."""
        if self.soa is None:
            return None
        minimum = self.soa.rdata.times[-1]
        return RR(self.soa.rname, QTYPE.SOA, CLASS.IN, min(self.soa.ttl, minimum), self.soa.rdata)


def load_zones(directory):
    zones = {}
    for filename in sorted(os.listdir(directory)):
        if not filename.endswith(".zone"):
            continue
        with open(os.path.join(directory, filename), encoding="utf-8") as handle:
            text = handle.read()
        rrs = RR.fromZone(text)
        origin = None
        for line in text.splitlines():
            if line.strip().upper().startswith("$ORIGIN"):
                origin = norm(line.split()[1])
                break
        if origin is None:
            raise SystemExit("%s: needs a $ORIGIN line" % filename)
        zone = zones.setdefault(origin, Zone(origin))
        for rr in rrs:
            zone.add(rr)
    return zones


def load_behaviours(directory):
    behaviours = {}
    path = os.path.join(directory, "behaviours.conf")
    if not os.path.exists(path):
        return behaviours
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            behaviours.setdefault(norm(fields[0]), []).append((fields[1], fields[2:]))
    return behaviours


class Server:
    def __init__(self, zones, behaviours, log_path):
        self.zones = zones
        self.behaviours = behaviours
        self.log_lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None

    def has(self, name, behaviour):
        return any(kind == behaviour for kind, _ in self.behaviours.get(name, []))

    def argument(self, name, behaviour):
        for kind, args in self.behaviours.get(name, []):
            if kind == behaviour and args:
                return args[0]
        return None

    def record(self, transport, request):
        if self.log is None:
            return
        edns = "-"
        dnssec_ok = "-"
        for rr in request.ar:
            if rr.rtype == QTYPE.OPT:
                edns = str(rr.rclass)
                dnssec_ok = "do" if (rr.ttl >> 15) & 1 else "-"
        line = "%s %s %s %s %s\n" % (transport, norm(request.q.qname), QTYPE.get(request.q.qtype), edns, dnssec_ok)
        with self.log_lock:
            self.log.write(line)
            self.log.flush()

    def find_zone(self, name):
        best = None
        for origin, zone in self.zones.items():
            if name == origin or name.endswith("." + origin) or origin == "":
                if best is None or len(origin) > len(best.origin):
                    best = zone
        return best

    def answer(self, request):
        """The reply to a parsed request, or None to stay silent."""
        reply = request.reply()
        reply.header.ra = 0
        reply.header.ad = 0  # an authoritative server does not validate (RFC 4035 §3.1.6)
        if any(rr.rtype == QTYPE.OPT for rr in request.ar):
            reply.add_ar(EDNS0(udp_len=1232))  # RFC 6891 §6.1.1: answer EDNS with EDNS
        qname = norm(request.q.qname)
        qtype = request.q.qtype
        if self.has(qname, "silent"):
            return None
        delay = self.argument(qname, "delay")
        if delay:
            time.sleep(int(delay) / 1000.0)
        if self.has(qname, "formerr-edns") and any(rr.rtype == QTYPE.OPT for rr in request.ar):
            reply.ar = []  # an old server knows no EDNS
            reply.header.rcode = RCODE.FORMERR
            return reply
        if self.has(qname, "servfail"):
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if self.has(qname, "refused"):
            reply.header.rcode = RCODE.REFUSED
            return reply
        if self.has(qname, "ad"):
            reply.header.ad = 1
        zone = self.find_zone(qname)
        if zone is None:
            reply.header.rcode = RCODE.REFUSED
            return reply
        reply.header.aa = 1
        name = qname
        seen = set()
        while name not in seen:  # CNAME chain inside the zone, each name once
            seen.add(name)
            records = zone.records.get(name, [])
            matching = [rr for rr in records if rr.rtype == qtype or qtype == QTYPE.ANY]
            if matching:
                for rr in matching:
                    reply.add_answer(rr)
                return reply
            cnames = [rr for rr in records if rr.rtype == QTYPE.CNAME]
            if not cnames:
                break
            reply.add_answer(cnames[0])
            target = norm(cnames[0].rdata.label)
            if self.find_zone(target) is not zone:
                return reply  # the chain leaves the zone: the client asks again
            name = target
        else:
            return reply  # a CNAME loop: hand back the chain once round
        if not zone.name_exists(name):
            reply.header.rcode = RCODE.NXDOMAIN
        soa = zone.negative_soa()
        if soa is not None:
            reply.add_auth(soa)
        return reply

    @staticmethod
    def udp_limit(request):
        for rr in request.ar:
            if rr.rtype == QTYPE.OPT:
                return max(512, rr.rclass)
        return 512

    def handle_udp(self, sock, data, peer):
        try:
            request = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - garbage in, nothing out
            return
        self.record("udp", request)
        reply = self.answer(request)
        if reply is None:
            return
        qname = norm(request.q.qname)
        wire = reply.pack()
        if self.has(qname, "truncate") or len(wire) > self.udp_limit(request):
            short = request.reply()
            short.header.ra = 0
            short.header.aa = reply.header.aa
            short.header.tc = 1
            wire = short.pack()
        if self.has(qname, "spoof"):
            forged = DNSRecord.parse(reply.pack())
            forged.header.id = (request.header.id + 1) & 0xFFFF
            sock.sendto(forged.pack(), peer)
            other = DNSRecord.question("other.example", "A")
            other.header.id = request.header.id
            other.header.qr = 1
            sock.sendto(other.pack(), peer)
        sock.sendto(wire, peer)

    def serve_udp(self, sock):
        while True:
            data, peer = sock.recvfrom(65535)
            threading.Thread(target=self.handle_udp, args=(sock, data, peer), daemon=True).start()

    def handle_tcp(self, conn):
        with conn:
            while True:
                header = self.read_exactly(conn, 2)
                if header is None:
                    return
                (length,) = struct.unpack("!H", header)
                data = self.read_exactly(conn, length)
                if data is None:
                    return
                try:
                    request = DNSRecord.parse(data)
                except Exception:  # noqa: BLE001
                    return
                self.record("tcp", request)
                reply = self.answer(request)
                if reply is None:
                    continue
                wire = reply.pack()
                conn.sendall(struct.pack("!H", len(wire)) + wire)

    @staticmethod
    def read_exactly(conn, count):
        data = b""
        while len(data) < count:
            chunk = conn.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def serve_tcp(self, sock):
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=self.handle_tcp, args=(conn,), daemon=True).start()


def bind_pair(address, port):
    """A UDP and a TCP socket bound to the same port (a free one when port is 0)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for _ in range(50):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((address, port))
        chosen = udp.getsockname()[1]
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((address, chosen))
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
            continue
        tcp.listen(64)
        return udp, tcp, chosen
    raise SystemExit("no free port for UDP and TCP")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log")
    args = parser.parse_args()

    server = Server(load_zones(args.zones), load_behaviours(args.zones), args.log)
    udp, tcp, port = bind_pair(args.address, args.port)
    # A parent that spawns us from a thread with signals blocked (libdispatch workers do) passes
    # that mask on: unblock, or SIGTERM would never stop us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=server.serve_udp, args=(udp,), daemon=True).start()
    threading.Thread(target=server.serve_tcp, args=(tcp,), daemon=True).start()
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
