# Shared by bench/outbound.sh and bench/mx.sh (sourced, not run): the loopback DNS server
# Tests/interop/dns_server.py. Expects REPO WORK and die().
DNS_PID=
DNS_PORT=
start_dns_server() {   # start_dns_server ZONE_DIR: sets DNS_PID and DNS_PORT
    /usr/bin/python3 "$REPO/Tests/interop/dns_server.py" --zones "$1" --address 127.0.0.1 \
        --log "$WORK/dns-queries.log" >"$WORK/dns.out" 2>&1 &
    DNS_PID=$!
    for _ in $(seq 200); do
        DNS_PORT=$(sed -n 's/^READY //p' "$WORK/dns.out")
        [ -n "$DNS_PORT" ] && return
        kill -0 "$DNS_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$WORK/dns.out"; die "dns_server.py did not start (apt-get install -y python3-dnslib)"
}
stop_dns_server() { [ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null && wait "$DNS_PID" 2>/dev/null; DNS_PID=; }
