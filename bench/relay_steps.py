"""Per-step latency of one sequential SMTP client (used for bench/README.md run 5).

Each message on a new connection: banner, EHLO, MAIL, RCPT, DATA, header+body+"." in one write,
QUIT; TCP_NODELAY. Prints p50/p90/p99/mean/max per step in ms.

  python3 bench/relay_steps.py --port 2635 -n 1000      # mailnode (bench/relay.sh's ports)
  python3 bench/relay_steps.py --port 2625 -n 1000      # the Postfix instance
"""
import argparse
import socket
import statistics
import time

BODY = (b"Subject: t\r\nFrom: a@example.org\r\nTo: rcpt@bench.test\r\n\r\n" + (b"x" * 76 + b"\r\n") * 64)


def reply(sock):
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
        lines = buf.split(b"\r\n")[:-1]
        if lines and len(lines[-1]) >= 4 and lines[-1][3:4] == b" ":
            return buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=1000)
    args = ap.parse_args()
    steps = {}
    for _ in range(args.n):
        t0 = time.perf_counter()
        s = socket.create_connection((args.host, args.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reply(s)
        steps.setdefault("banner", []).append(time.perf_counter() - t0)
        for name, cmd in [("ehlo", b"EHLO c.example.org\r\n"), ("mail", b"MAIL FROM:<a@example.org>\r\n"),
                          ("rcpt", b"RCPT TO:<rcpt@bench.test>\r\n"), ("data", b"DATA\r\n"),
                          ("dot", BODY + b".\r\n"), ("quit", b"QUIT\r\n")]:
            a = time.perf_counter()
            s.sendall(cmd)
            r = reply(s)
            steps.setdefault(name, []).append(time.perf_counter() - a)
            if name == "dot" and not r.startswith(b"250"):
                raise SystemExit("refused: %r" % r)
        s.close()
        steps.setdefault("total", []).append(time.perf_counter() - t0)
    for name, values in steps.items():
        values.sort()
        ms = lambda v: v * 1000
        print(f"{name:7s} p50 {ms(statistics.median(values)):7.3f}  p90 {ms(values[int(len(values) * .9)]):7.3f}  "
              f"p99 {ms(values[int(len(values) * .99)]):7.3f}  mean {ms(statistics.mean(values)):7.3f}  max {ms(values[-1]):7.3f} ms")


if __name__ == "__main__":
    main()
