#!/usr/bin/env python3
"""An HTTPS server for the MTA-STS tests: answers GET /.well-known/mta-sts.txt per Host header
from a JSON file of routes, over TLS with the given certificate.

Usage: mta_sts_server.py --cert C --key K --routes ROUTES.json [--address 127.0.0.5]
ROUTES.json: {"mta-sts.example.test": {"status": 200, "type": "text/plain", "body": "...",
              "location": "https://..."}, ...}; a host without a route gets 404.
Prints "READY <port>" when it listens (port chosen by the system); stops on SIGTERM.
Every request is logged to standard error as "GET host path".
"""
import argparse
import http.server
import json
import ssl
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--routes", required=True)
    parser.add_argument("--address", default="127.0.0.5")
    args = parser.parse_args()
    routes = json.load(open(args.routes))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            sys.stderr.write(f"GET {host} {self.path}\n")
            route = routes.get(host) if self.path == "/.well-known/mta-sts.txt" else None
            if route is None:
                route = {"status": 404, "type": "text/plain", "body": "not found\n"}
            body = route.get("body", "").encode()
            self.send_response(route.get("status", 200))
            self.send_header("Content-Type", route.get("type", "text/plain"))
            self.send_header("Content-Length", str(len(body)))
            if "location" in route:
                self.send_header("Location", route["location"])
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((args.address, 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
