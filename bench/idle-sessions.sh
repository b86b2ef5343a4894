#!/bin/bash
# Idle-session benchmark (issue 2 "Show"): N concurrent idle SMTP sessions (each after EHLO)
# against ONE `mailnode up` listener. Reports the server's resident memory per session and a
# fresh client's connect -> greeting -> EHLO-reply latency at that load.
#
#   bench/idle-sessions.sh                 # N=10000, release build first
#   N=2000 SKIP_BUILD=1 bench/idle-sessions.sh
#   POSTFIX=1 bench/idle-sessions.sh       # also measure Postfix's smtpd at PF_N=1000 sessions
#
# Targets: <= 30 KB per session, EHLO reply <= 100 ms at 10,000 sessions.
# A benchmark, not a CI test. Needs python3; POSTFIX=1 needs root and the postfix package.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

N=${N:-10000}
SAMPLES=${SAMPLES:-20}
WORK=${WORK:-/tmp/mailnode-idle-bench}
BIN=${BIN:-$ROOT/.build/release/mailnode}
POSTFIX=${POSTFIX:-0}
PF_PORT=${PF_PORT:-2725}
PF_N=${PF_N:-1000}         # Postfix forks one smtpd per session; 1,000 keeps that practical

# Both the server and the client hold N sockets (plus the listener, logs, spool...).
need=$((N + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "ulimit -Hn is $hard; N=$N needs $need (run as root or lower N)" >&2
    exit 1
fi
ulimit -n "$need"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== swift build -c release --product mailnode"
    swift build -c release --product mailnode
fi
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK"
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$POSTFIX" = 1 ] && [ -f "$WORK/postfix/spool/pid/master.pid" ]; then
        postfix -c "$WORK/postfix/etc" stop >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# --- mailnode ----------------------------------------------------------------------------
# notice: no per-connection log lines (info would log 2 x N lines, which costs CPU, not memory).
"$BIN" up --listen 127.0.0.1:0 --hostname mx.bench.test --domain bench.test \
    --spool "$WORK/spool" --log-level notice >"$WORK/mailnode.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*listen=[^ ]*:\([0-9][0-9]*\) .*mailnode up$/\1/p' "$WORK/mailnode.log" | head -1)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { echo "mailnode did not start:" >&2; cat "$WORK/mailnode.log" >&2; exit 1; }
echo "== mailnode pid $SERVER_PID on 127.0.0.1:$PORT, $N sessions"
python3 bench/idle_sessions.py --port "$PORT" --sessions "$N" --pids "$SERVER_PID" \
    --samples "$SAMPLES" --json "$WORK/mailnode.json" >/dev/null
threads=$(ls /proc/$SERVER_PID/task | wc -l)
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" && status=0 || status=$?
SERVER_PID=
[ "$status" = 0 ] || echo "warning: mailnode exited with $status after SIGTERM" >&2

# --- Postfix (optional) --------------------------------------------------------------------
# A separate instance (config and queue under $WORK/postfix, never /etc/postfix), set up like
# /work/shared/peers/postfix-config (no chroot, no DNS, log file via postlogd) but with enough
# smtpd processes for PF_N sessions: Postfix runs one smtpd process per session.
pf() { script -qec "postfix -c $WORK/postfix/etc $*" /dev/null; }   # fatals are only shown on a tty
if [ "$POSTFIX" = 1 ]; then
    PF=$WORK/postfix
    mkdir -p "$PF/etc" "$PF/spool" "$PF/data"
    chown postfix "$PF/data"
    cat >"$PF/etc/main.cf" <<PFMAIN
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = $PF
maillog_file = $PF/maillog
myhostname = mx.bench.local
mydomain = bench.local
smtpd_banner = \$myhostname ESMTP
biff = no
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains = bench.test
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtpd_tls_security_level =
default_process_limit = $((PF_N + 100))
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_event_limit_exceptions = \$mynetworks
PFMAIN
    cat >"$PF/etc/master.cf" <<PFMASTER
$PF_PORT  inet  n - n - $((PF_N + 50)) smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
PFMASTER
    pf set-permissions >/dev/null 2>&1 || true
    pf check
    pf start
    for _ in $(seq 50); do [ -s "$PF/spool/pid/master.pid" ] && break; sleep 0.1; done
    master=$(tr -d ' ' <"$PF/spool/pid/master.pid")
    sleep 1
    echo "== postfix master pid $master on 127.0.0.1:$PF_PORT, $PF_N sessions"
    # smtpd processes come and go with the sessions: re-list master's children at each
    # reading. The idle figure includes master, qmgr, pickup and the first smtpd, so the
    # per-session delta is what each further session costs.
    python3 bench/idle_sessions.py --port "$PF_PORT" --sessions "$PF_N" --samples "$SAMPLES" \
        --pids-cmd "echo $master; pgrep -P $master" --json "$WORK/postfix.json" >/dev/null
    pf stop
fi

# --- report --------------------------------------------------------------------------------
python3 - "$WORK" "$N" "$threads" <<'EOF'
import json, os, sys
work, n, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = json.load(open(os.path.join(work, "mailnode.json")))
p = json.load(open(os.path.join(work, "postfix.json"))) if os.path.exists(os.path.join(work, "postfix.json")) else None
def row(name, f):
    cells = [f(m)] + ([f(p)] if p else [])
    return "| " + name + " | " + " | ".join(cells) + " |"
print()
print("| idle sessions | mailnode (N=%d)%s |" % (n, (" | Postfix smtpd (N=%d)" % p["sessions_wanted"]) if p else ""))
print("|---|---:%s|" % ("|---:" if p else ""))
print(row("sessions held / alive at end", lambda r: "%d / %d" % (r["sessions_open"], r["sessions_alive_at_end"])))
print(row("server processes (idle -> loaded)", lambda r: "%d -> %d" % (r["idle"]["processes"], r["loaded"]["processes"])))
print(row("RSS idle", lambda r: "%.1f MB" % (r["idle"]["rss_kb"] / 1024)))
print(row("RSS loaded", lambda r: "%.1f MB" % (r["loaded"]["rss_kb"] / 1024)))
print(row("**RSS per session**", lambda r: "**%.1f KB**" % r["rss_per_session_kb"]))
print(row("PSS per session", lambda r: "%.1f KB" % r["pss_per_session_kb"]))
print(row("time to open all sessions", lambda r: "%.1f s" % r["open_seconds"]))
print(row("EHLO latency unloaded p50 / max", lambda r: "%.2f / %.2f ms" % (r["latency_unloaded_ms"]["p50"], r["latency_unloaded_ms"]["max"])))
print(row("**EHLO latency at load p50 / max**", lambda r: "**%.2f / %.2f ms**" % (r["latency_loaded_ms"]["p50"], r["latency_loaded_ms"]["max"])))
if m["open_errors"] or (p and p["open_errors"]):
    print("\nopen errors: mailnode %s%s" % (m["open_errors"], ("; postfix %s" % p["open_errors"]) if p else ""))
print("\nmailnode threads at load: %s" % threads)
ok_mem = m["rss_per_session_kb"] <= 30
ok_lat = m["latency_loaded_ms"]["max"] <= 100
print("targets: <= 30 KB/session: %s; EHLO <= 100 ms at load (max): %s" % ("met" if ok_mem else "MISSED", "met" if ok_lat else "MISSED"))
if p:
    print("ratio Postfix/mailnode memory per session (PSS): %.1fx; (RSS): %.1fx" % (
        p["pss_per_session_kb"] / m["pss_per_session_kb"], p["rss_per_session_kb"] / m["rss_per_session_kb"]))
print("raw results: %s/mailnode.json%s" % (work, " and postfix.json" if p else ""))
EOF
