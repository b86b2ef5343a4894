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

now() { date +%s.%N; }
ulimit -n 65536 2>/dev/null || true

# ---- smtp-sink ----------------------------------------------------------------------------
SINK_PID=
start_sink() {
    smtp-sink -u nobody -m 1000 -c 127.0.0.1:$SINK_PORT 1024 >"$WORK/sink.out" 2>&1 &
    SINK_PID=$!
    for _ in $(seq 100); do ss -ltn "sport = :$SINK_PORT" | grep -q LISTEN && return; sleep 0.05; done
    die "smtp-sink did not start"
}
stop_sink() { [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null; SINK_PID=; }
# messages the sink counted so far (its -c counter: "\rsess=N quit=N mesg=N")
sink_count() { tail -c 200 "$WORK/sink.out" 2>/dev/null | tr '\r' '\n' | grep -o 'mesg=[0-9]*' | tail -1 | cut -d= -f2; }

# ---- mailnode -----------------------------------------------------------------------------
MN_PID=
start_mailnode() {
    rm -rf "$WORK/mn-spool"
    "$MAILNODE" up --listen 127.0.0.1:$MN_PORT --hostname mx.bench.local --domain bench.test \
        --spool "$WORK/mn-spool" --next-hop 127.0.0.1:$SINK_PORT --log-level notice >"$WORK/mailnode.log" 2>&1 &
    MN_PID=$!
    for _ in $(seq 200); do grep -q 'mailnode up' "$WORK/mailnode.log" && return; sleep 0.05; done
    cat "$WORK/mailnode.log"; die "mailnode did not start"
}
stop_mailnode() { [ -n "$MN_PID" ] && kill -TERM "$MN_PID" 2>/dev/null && wait "$MN_PID" 2>/dev/null; MN_PID=; }
mn_cpu() { awk -v hz="$HZ" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$MN_PID/stat" 2>/dev/null || echo 0; }
mn_queue() { ls -f "$WORK/mn-spool/queue" 2>/dev/null | grep -vc '^\.\.\?$'; }

# ---- Postfix instance (never /etc/postfix) ------------------------------------------------
pf() { script -qec "postfix -c $PF/etc $*" /dev/null; }   # postfix prints fatals only on a tty
pf_setup() {
    pf stop >/dev/null 2>&1 || true
    rm -rf "$PF"; mkdir -p "$PF/etc" "$PF/spool" "$PF/data"
    sed -e "s#@PF_ROOT@#$PF#g" -e "s#@SINK_PORT@#$SINK_PORT#g" "$PEERS/postfix-config/main.cf.in" >"$PF/etc/main.cf"
    sed -e "s#^2525 #$PF_PORT #" "$PEERS/postfix-config/master.cf" >"$PF/etc/master.cf"
    chown postfix "$PF/data"; : >"$PF/maillog"
    pf set-permissions >/dev/null 2>&1 || true
    pf check || die "postfix check failed"
    pf start || die "postfix start failed"
    for _ in $(seq 100); do ss -ltn "sport = :$PF_PORT" | grep -q LISTEN && return; sleep 0.1; done
    die "postfix smtpd did not listen on $PF_PORT"
}
pf_queue() { find "$PF/spool/"{maildrop,incoming,active,deferred,hold} -type f 2>/dev/null | wc -l; }
pf_cpu() {   # master (with reaped children) + live children
    local m; m=$(tr -d ' ' <"$PF/spool/pid/master.pid" 2>/dev/null)
    [ -n "$m" ] || { echo 0; return; }
    { awk '{print $14 + $15 + $16 + $17}' "/proc/$m/stat"
      for p in $(pgrep -P "$m"); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done
    } | awk -v hz="$HZ" '{s += $1} END {printf "%.2f\n", s / hz}'
}
cleanup() { stop_sink; stop_mailnode; pf stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- one run ------------------------------------------------------------------------------
# run SERVER CONC -> one CSV line:
# server,conc,n,accept_s,accepted_per_s,e2e_s,delivered_per_s,cpu_us_per_msg,sink_count,queue_left,source_rc
run() {
    local server=$1 c=$2 port cpu0 cpu1 t0 t_acc= t_end= src rc=0 cnt=0 left
    start_sink
    if [ "$server" = mailnode ]; then start_mailnode; port=$MN_PORT; cpu0=$(mn_cpu)
    else port=$PF_PORT; cpu0=$(pf_cpu); fi
    t0=$(now)
    smtp-source -l "$SIZE" -m "$N" -s "$c" -M bench.local -f sender@bench.local -t rcpt@bench.test \
        127.0.0.1:$port >"$WORK/source.out" 2>&1 &
    # (smtp-source stops at its first error, e.g. a refused connect; run() is retried once then)
    src=$!
    while :; do
        if [ -z "$t_acc" ] && ! kill -0 $src 2>/dev/null; then wait $src; rc=$?; t_acc=$(now); fi
        if [ -n "$t_acc" ] && [ "$rc" != 0 ]; then   # smtp-source gave up: do not wait for the rest
            cp "$WORK/source.out" "$WORK/source-fail-$server-$c.out"; cp "$WORK/sink.out" "$WORK/sink-fail-$server-$c.out"
            echo "  $server c=$c: smtp-source exit $rc: $(tail -1 "$WORK/source.out")" >&2; t_end=$(now); break; fi
        cnt=$(sink_count); cnt=${cnt:-0}
        if [ -n "$t_acc" ] && [ "$cnt" -ge "$N" ]; then t_end=$(now); break; fi
        if [ "$(echo "$(now) - $t0 > $RUN_LIMIT" | bc)" = 1 ]; then echo "  run limit hit ($cnt delivered)" >&2; t_end=$(now); break; fi
        sleep 0.02
    done
    [ -n "$t_acc" ] || { kill $src 2>/dev/null; wait $src; rc=124; t_acc=$t_end; }
    # let the spool / queue settle (the state removal follows the sink's 250)
    for _ in $(seq 100); do
        if [ "$server" = mailnode ]; then left=$(mn_queue); else left=$(pf_queue); fi
        [ "$left" = 0 ] && break; sleep 0.1
    done
    if [ "$server" = mailnode ]; then cpu1=$(mn_cpu); stop_mailnode; else cpu1=$(pf_cpu); fi
    cnt=$(sink_count); stop_sink
    awk -v s="$server" -v c="$c" -v n="$N" -v t0="$t0" -v ta="$t_acc" -v te="$t_end" -v c0="$cpu0" -v c1="$cpu1" \
        -v cnt="${cnt:-0}" -v left="$left" -v rc="$rc" 'BEGIN {
        printf "%s,%d,%d,%.3f,%.1f,%.3f,%.1f,%.0f,%d,%d,%d\n", s, c, n, ta - t0, n / (ta - t0), te - t0, n / (te - t0),
            (c1 - c0) * 1e6 / n, cnt, left, rc }'
}

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
