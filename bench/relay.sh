#!/bin/bash
# Relay benchmark (issue 3, "Show"): Postfix's smtp-source -> X -> Postfix's smtp-sink, where X is
#   mailnode  (`mailnode up --next-hop`, release build, durable spool: fsync file + dir before 250)
#   postfix   (a separate Postfix instance configured like /work/shared/peers/postfix-config:
#              relay of bench.test to the sink, no DNS, no chroot, fsync before 250)
# at concurrency 1, 10 and 50 (interleaved: mailnode, postfix, next concurrency), 5 KB messages,
# one recipient. A benchmark, NOT a CI test; root (Postfix instance), Debian 12 with postfix.
#
#   bench/relay.sh                      # builds release first
#   SKIP_BUILD=1 N=2000 bench/relay.sh  # fewer messages, reuse .build/release/mailnode
#   CONCS="10" SERVERS=mailnode bench/relay.sh
#
# Per run: a fresh smtp-sink (-c counter), a fresh mailnode spool; time from smtp-source's start
#   accepted/s  = N / smtp-source wall time (every 250 received)
#   delivered/s = N / time until the sink has counted N messages (end to end)
# then checks the sink count and that the spool / Postfix queue is empty, and reads the server's
# CPU time (mailnode: its process; Postfix: master + children, exited ones included).
# Then accept latency at the listener with bench/relay_latency.py (LAT_N messages at LAT_CONCS).
# Raw results: $WORK/relay.csv, $WORK/latency.jsonl; the table: bench/relay_report.py.
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${WORK:-/tmp/mailnode-relay-bench}
N=${N:-5000}
SIZE=${SIZE:-5120}
CONCS=${CONCS:-"1 10 50"}
SERVERS=${SERVERS:-"mailnode postfix"}
LAT_N=${LAT_N:-2000}
LAT_CONCS=${LAT_CONCS:-"1 10"}
RUN_LIMIT=${RUN_LIMIT:-300}           # seconds, per run
MN_PORT=${MN_PORT:-2635}              # mailnode listener
PF_PORT=${PF_PORT:-2625}              # postfix smtpd
SINK_PORT=${SINK_PORT:-2626}          # smtp-sink, the next hop of both
PEERS=${PEERS:-/work/shared/peers}
PF=$WORK/postfix
MAILNODE=$REPO/.build/release/mailnode
HZ=$(getconf CLK_TCK)

die() { echo "relay.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (separate Postfix instance)"
for t in smtp-source smtp-sink postfix python3; do command -v $t >/dev/null || PATH=$PATH:/usr/sbin; done
command -v smtp-source >/dev/null || die "apt-get install -y postfix"
mkdir -p "$WORK"
: >"$WORK/relay.csv"
: >"$WORK/latency.jsonl"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --product mailnode || die "release build failed"
fi
[ -x "$MAILNODE" ] || die "$MAILNODE missing"

. "$REPO/bench/relay_lib.sh"

latency() {   # latency SERVER CONC -> JSON line
    local server=$1 c=$2 port
    start_sink
    if [ "$server" = mailnode ]; then start_mailnode; port=$MN_PORT; else port=$PF_PORT; fi
    python3 "$REPO/bench/relay_latency.py" --port $port -n "$LAT_N" --concurrency "$c" --size "$SIZE" --label "$server"
    for _ in $(seq 100); do
        if [ "$server" = mailnode ]; then [ "$(mn_queue)" = 0 ] && break; else [ "$(pf_queue)" = 0 ] && break; fi
        sleep 0.1
    done
    [ "$server" = mailnode ] && stop_mailnode
    stop_sink
}

echo "== $(date -u +%FT%TZ) $(uname -srm), $(nproc) CPUs, N=$N x ${SIZE} B, concurrency: $CONCS, loadavg $(cut -d" " -f1-3 /proc/loadavg)"
case " $SERVERS " in *" postfix "*) pf_setup; echo "== postfix $(postconf -d -h mail_version) instance under $PF, smtpd :$PF_PORT";; esac
echo "server,conc,n,accept_s,accepted_per_s,e2e_s,delivered_per_s,cpu_us_per_msg,sink_count,queue_left,source_rc" | tee "$WORK/relay.csv"
for c in $CONCS; do
    for s in $SERVERS; do
        line=$(run "$s" "$c")
        case "$line" in *,0) ;; *) echo "  retrying $s c=$c once: $line" >&2; line=$(run "$s" "$c");; esac
        echo "$line" | tee -a "$WORK/relay.csv"
    done
done
for c in $LAT_CONCS; do
    for s in $SERVERS; do latency "$s" "$c" | tee -a "$WORK/latency.jsonl"; done
done
echo "== done $(date -u +%FT%TZ), loadavg $(cut -d" " -f1-3 /proc/loadavg)"
python3 "$REPO/bench/relay_report.py" "$WORK/relay.csv" "$WORK/latency.jsonl"
