#!/bin/bash
# Outbound benchmark (issue 9, "bench/outbound.sh"): messages/s from a full queue to smtp-sink
# across 20 destination domains, mailnode --role outbound against Postfix in the same run.
#
#   bench/outbound.sh                         # builds release first
#   SKIP_BUILD=1 N=2000 RUNS=3 bench/outbound.sh
#   MODES="dns postfix" bench/outbound.sh     # modes: dns routes postfix (default: all three)
#   MN_LOG_LEVEL=info bench/outbound.sh       # mailnode logs each delivery too (Postfix always does)
#
# A benchmark, NOT a CI test (wall clock); root (a separate Postfix instance), Debian 12 with postfix.
#
# The "Internet": domains d1.test .. d$DOMAINS.test, domain dK's mail exchanger is 127.0.1.K,
# where a Postfix smtp-sink (-c counter) listens on $SINK_PORT — one sink per destination address,
# so each domain's count can be checked and per-host limits apply per sink.
#   dns     mailnode --role outbound, delivering by MX over Tests/interop/dns_server.py on loopback
#           (outbound.port = $SINK_PORT; MX dK.test -> mx.dK.test -> 127.0.1.K)
#   routes  the same node with a static route per domain ([hops.dK] address = "127.0.1.K:PORT",
#           [routes] "dK.test" = "dK"): no DNS at all, like Postfix
#   postfix a throwaway Postfix instance set up as /work/shared/peers/postfix-config, with
#           transport_maps dK.test -> smtp:[127.0.1.K]:PORT (Postfix cannot ask a DNS server on
#           another port; the bracketed next hop skips MX look-ups)
# Every side: TLS off, no DKIM signing, no MTA-STS, no TLS-RPT records; 20 deliveries at once in
# all (mailnode's fixed SpoolRunner limit; Postfix: smtp maxproc 20) and at most $PER_HOST to one
# destination (outbound.max_connections_per_host; Postfix smtp_destination_concurrency_limit,
# initial_destination_concurrency = the same, so no slow start).
#
# One run of a mode:
#   1. fill: with every sink down, smtp-source hands N messages (SIZE bytes, one recipient, spread
#      evenly over the domains, 20 sessions) to the node / Postfix; each first attempt is refused
#      (connection refused) and the message is deferred (mailnode retry.initial_delay = 1 h;
#      Postfix's deferred queue). The fill waits until all N are deferred on disk.
#   2. the sinks start; t0; `mailnode queue flush` / `postqueue -f` (which also forgets Postfix's
#      dead-destination marks); the clock stops when the sinks' counters add up to N.
#      delivered/s = N / (t_end - t0); drained = until the queue directory is empty.
#   3. checks: each sink counted exactly N/DOMAINS (so the total is N: none lost, none twice, none
#      misrouted), counted again 1 s after the queue drained; the queue is empty. Any failure ends
#      the bench with exit 1.
# Raw results: $WORK/outbound.csv.
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${WORK:-/tmp/mailnode-outbound-bench}
N=${N:-2000}
SIZE=${SIZE:-4096}
DOMAINS=${DOMAINS:-20}
RUNS=${RUNS:-1}
MODES=${MODES:-"dns routes postfix"}
PER_HOST=${PER_HOST:-10}
TOTAL_CONC=20                        # mailnode: SpoolRunnerConfiguration.maxConcurrentDeliveries (not a file key)
FILL_SESSIONS=${FILL_SESSIONS:-20}
RUN_LIMIT=${RUN_LIMIT:-300}          # seconds, per phase: hang detector
MN_PORT=${MN_PORT:-2735}             # mailnode outbound listener
PF_PORT=${PF_PORT:-2725}             # postfix smtpd
SINK_PORT=${SINK_PORT:-2726}         # every sink, on 127.0.1.K
PEERS=${PEERS:-/work/shared/peers}
PF=$WORK/postfix
MAILNODE=${MAILNODE:-$REPO/.build/release/mailnode}
MN_LOG_LEVEL=${MN_LOG_LEVEL:-notice}  # info logs a line per delivery, as Postfix's maillog does
HZ=$(getconf CLK_TCK)

die() { echo "outbound.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (separate Postfix instance, smtp-sink -u nobody)"
PATH=$PATH:/usr/sbin
command -v smtp-source >/dev/null && command -v smtp-sink >/dev/null || die "apt-get install -y postfix"
[ $((N % DOMAINS)) = 0 ] || die "N ($N) must be a multiple of DOMAINS ($DOMAINS)"
PER_DOMAIN=$((N / DOMAINS))
mkdir -p "$WORK"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --product mailnode || die "release build failed"
fi
case " $MODES " in *" dns "*|*" routes "*) [ -x "$MAILNODE" ] || die "$MAILNODE missing";; esac

now() { date +%s.%N; }
ulimit -n 65536 2>/dev/null || true
sink_addr() { echo "127.0.1.$1"; }

# ---- the sinks: one smtp-sink per destination address ------------------------------------
SINK_PIDS=()
sink_files() { for k in $(seq "$DOMAINS"); do echo "$WORK/sink$k.out"; done; }
start_sinks() {
    local k
    for k in $(seq "$DOMAINS"); do
        smtp-sink -u nobody -m 1000 -c "$(sink_addr "$k"):$SINK_PORT" 1024 >"$WORK/sink$k.out" 2>&1 &
        SINK_PIDS+=($!)
    done
    for k in $(seq "$DOMAINS"); do
        for _ in $(seq 100); do ss -ltn "src $(sink_addr "$k"):$SINK_PORT" | grep -q LISTEN && continue 2; sleep 0.05; done
        die "smtp-sink on $(sink_addr "$k"):$SINK_PORT did not start"
    done
}
stop_sinks() {
    local p
    for p in "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    SINK_PIDS=()
}

# ---- loopback DNS (mode dns) ---------------------------------------------------------------
. "$REPO/bench/dns_lib.sh"
start_dns() {
    mkdir -p "$WORK/zones"
    {
        echo '$ORIGIN test.'; echo '$TTL 3600'
        echo '@ 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 3600'
        for k in $(seq "$DOMAINS"); do echo "d$k MX 10 mx.d$k"; echo "mx.d$k A $(sink_addr "$k")"; done
    } >"$WORK/zones/bench.zone"
    start_dns_server "$WORK/zones"
}

# ---- mailnode ------------------------------------------------------------------------------
MN_PID=
mn_config() {   # mn_config MODE SPOOL
    local k
    cat <<EOF
[node]
hostname = "out.bench.local"
spool = "$2"

[outbound]
listen = ["127.0.0.1:$MN_PORT"]
port = $SINK_PORT
tls = "none"
mta_sts = false
tls_reports = ""
max_connections_per_host = $PER_HOST

[retry]
initial_delay = 3600
max_delay = 3600
jitter_percent = 0
delay_warning = 0
EOF
    if [ "$1" = dns ]; then
        printf '\n[dns]\nservers = ["127.0.0.1:%s"]\n' "$DNS_PORT"
    else
        for k in $(seq "$DOMAINS"); do printf '\n[hops.d%s]\naddress = "%s:%s"\ntls = "none"\n' "$k" "$(sink_addr "$k")" "$SINK_PORT"; done
        printf '\n[routes]\n'
        for k in $(seq "$DOMAINS"); do printf '"d%s.test" = "d%s"\n' "$k" "$k"; done
    fi
}
start_mailnode() {   # start_mailnode MODE
    rm -rf "$WORK/mn-spool"
    mn_config "$1" "$WORK/mn-spool" >"$WORK/outbound-$1.toml"
    "$MAILNODE" --role outbound --config "$WORK/outbound-$1.toml" --log-level "$MN_LOG_LEVEL" >"$WORK/mailnode-$1.log" 2>&1 &
    MN_PID=$!
    for _ in $(seq 400); do grep -q 'mailnode up' "$WORK/mailnode-$1.log" && return; kill -0 $MN_PID 2>/dev/null || break; sleep 0.05; done
    cat "$WORK/mailnode-$1.log"; die "mailnode did not start"
}
stop_mailnode() { [ -n "$MN_PID" ] && kill -TERM "$MN_PID" 2>/dev/null && wait "$MN_PID" 2>/dev/null; MN_PID=; }
mn_cpu() { awk -v hz="$HZ" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$MN_PID/stat" 2>/dev/null || echo 0; }
mn_count() { ls -f "$WORK/mn-spool/$1" 2>/dev/null | grep -vc '^\.'; }   # committed entries in queue/ or state/
mn_queue() { mn_count queue; }
mn_deferred() { [ "$(mn_count state)" = "$N" ] && [ "$(mn_queue)" = "$N" ]; }   # every entry attempted once

# ---- Postfix instance (never /etc/postfix) -------------------------------------------------
. "$REPO/bench/postfix_lib.sh"
pf_setup() {
    local k map=
    pf stop >/dev/null 2>&1 || true
    rm -rf "$PF"; mkdir -p "$PF/etc" "$PF/spool" "$PF/data"
    sed -e "s#@PF_ROOT@#$PF#g" -e "s#@SINK_PORT@#$SINK_PORT#g" "$PEERS/postfix-config/main.cf.in" >"$PF/etc/main.cf"
    # smtpd on PF_PORT; at most TOTAL_CONC smtp delivery processes (mailnode's total)
    sed -e "s#^2525 #$PF_PORT #" -e "s#^\(smtp  *unix  *-  *-  *n  *-  *\)-\( *smtp\)#\1$TOTAL_CONC\2#" \
        "$PEERS/postfix-config/master.cf" >"$PF/etc/master.cf"
    grep -Eq "^smtp +unix .* $TOTAL_CONC +smtp" "$PF/etc/master.cf" || die "could not set smtp maxproc in master.cf"
    for k in $(seq "$DOMAINS"); do map="$map d$k.test=smtp:[$(sink_addr "$k")]:$SINK_PORT"; done
    postconf -c "$PF/etc" -e \
        "relay_domains = $(seq -f 'd%g.test' -s ' ' "$DOMAINS")" \
        "transport_maps = inline:{$map }" \
        "smtp_destination_concurrency_limit = $PER_HOST" \
        "initial_destination_concurrency = $PER_HOST" \
        "default_destination_concurrency_limit = $PER_HOST" \
        || die "postconf failed"
    pf_launch
}
pf_count() { find "$PF/spool/$1" -type f 2>/dev/null | wc -l; }
pf_deferred() { [ "$(pf_count deferred)" = "$N" ] && [ "$(pf_queue)" = "$N" ]; }

cleanup() {
    stop_sinks; stop_mailnode
    stop_dns_server
    [ -d "$PF/etc" ] && pf stop >/dev/null 2>&1
    true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- one run -------------------------------------------------------------------------------
# fill PORT: N messages, N/DOMAINS per domain, FILL_SESSIONS smtp-source sessions in all.
fill() {
    local port=$1 k pids=() rc=0 per=$(( FILL_SESSIONS / DOMAINS > 0 ? FILL_SESSIONS / DOMAINS : 1 ))
    for k in $(seq "$DOMAINS"); do
        smtp-source -l "$SIZE" -m "$PER_DOMAIN" -s "$per" -M bench.local -f sender@bench.local -t "rcpt@d$k.test" \
            127.0.0.1:"$port" >"$WORK/source$k.out" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    [ $rc = 0 ] || { tail -n 3 "$WORK"/source*.out >&2; die "smtp-source failed during the fill"; }
}

wait_until() {   # wait_until WHAT COMMAND...: poll every 0.1 s, up to RUN_LIMIT
    local what=$1; shift
    local deadline=$(( $(date +%s) + RUN_LIMIT ))
    until "$@"; do
        [ "$(date +%s)" -lt $deadline ] || die "timed out waiting for: $what"
        sleep 0.1
    done
}

# run MODE R -> one CSV line (printed and appended to outbound.csv): mode,run,n,fill_s,deliver_s,delivered_per_s,drain_s,cpu_us_per_msg,sink_total,sink_min,sink_max,left
run() {
    local mode=$1 r=$2 t_fill t0 t_end t_drain cpu0 cpu1 counts total min max left port
    stop_sinks   # down for the fill: every first attempt is refused
    if [ "$mode" = postfix ]; then port=$PF_PORT; else start_mailnode "$mode"; port=$MN_PORT; fi
    t_fill=$(now)
    fill "$port"
    if [ "$mode" = postfix ]; then wait_until "Postfix: $N messages deferred" pf_deferred
    else wait_until "mailnode: $N messages deferred" mn_deferred; fi
    t_fill=$(echo "$(now) - $t_fill" | bc)
    start_sinks
    if [ "$mode" = postfix ]; then
        cpu0=$(pf_cpu); t0=$(now)
        postqueue -c "$PF/etc" -f || die "postqueue -f failed"
    else
        cpu0=$(mn_cpu); t0=$(now)
        "$MAILNODE" queue flush --spool "$WORK/mn-spool" >"$WORK/flush.out" 2>&1 || { cat "$WORK/flush.out"; die "queue flush failed"; }
    fi
    t_end=$(python3 "$REPO/bench/sink_counts.py" wait --total "$N" --timeout "$RUN_LIMIT" $(sink_files)) \
        || die "$mode run $r: the sinks did not count $N messages (see $WORK/sink*.out)"
    if [ "$mode" = postfix ]; then cpu1=$(pf_cpu); wait_until "Postfix queue empty" test "$(pf_queue)" = 0
    else cpu1=$(mn_cpu); wait_until "mailnode queue empty" test "$(mn_queue)" = 0; fi
    t_drain=$(now)
    sleep 1   # anything sent twice would be counted by now
    if [ "$mode" = postfix ]; then left=$(pf_queue); else left=$(mn_queue); stop_mailnode; fi
    counts=$(python3 "$REPO/bench/sink_counts.py" counts $(sink_files))
    stop_sinks
    read -r total min max <<<"$(echo "$counts" | tr ' ' '\n' | awk 'NR == 1 {mn = $1; mx = $1} {s += $1; if ($1 < mn) mn = $1; if ($1 > mx) mx = $1} END {print s, mn, mx}')"
    line=$(awk -v m="$mode" -v r="$r" -v n="$N" -v tf="$t_fill" -v t0="$t0" -v te="$t_end" -v td="$t_drain" -v c0="$cpu0" -v c1="$cpu1" \
        -v tot="$total" -v mn="$min" -v mx="$max" -v left="$left" 'BEGIN {
        printf "%s,%d,%d,%.2f,%.3f,%.1f,%.3f,%.0f,%d,%d,%d,%d\n", m, r, n, tf, te - t0, n / (te - t0), td - t0, (c1 - c0) * 1e6 / n, tot, mn, mx, left }')
    echo "$line" | tee -a "$WORK/outbound.csv"
    if [ "$total" != "$N" ] || [ "$min" != "$PER_DOMAIN" ] || [ "$max" != "$PER_DOMAIN" ] || [ "$left" != 0 ]; then
        echo "outbound.sh: FAIL $mode run $r: the sinks counted $total (per sink $min..$max, want $PER_DOMAIN each, total $N), $left left in the queue" >&2
        echo "  per-sink counts: $counts" >&2
        return 1
    fi
}

echo "== $(date -u +%FT%TZ) $(uname -srm), $(nproc) CPUs, N=$N x $SIZE B to $DOMAINS domains, $PER_HOST per host / $TOTAL_CONC in all, runs=$RUNS, modes: $MODES"
echo "== uptime: $(uptime)"
case " $MODES " in *" dns "*) start_dns; echo "== loopback DNS on 127.0.0.1:$DNS_PORT";; esac
case " $MODES " in *" postfix "*) pf_setup; echo "== postfix $(postconf -d -h mail_version) instance under $PF, smtpd :$PF_PORT";; esac
echo "mode,run,n,fill_s,deliver_s,delivered_per_s,drain_s,cpu_us_per_msg,sink_total,sink_min,sink_max,left" | tee "$WORK/outbound.csv"
for r in $(seq "$RUNS"); do
    for m in $MODES; do
        run "$m" "$r" || die "run failed: every message must arrive exactly once"
    done
done
echo "== done $(date -u +%FT%TZ), uptime: $(uptime)"
python3 - "$WORK/outbound.csv" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
rate = {}
for row in rows:
    rate.setdefault(row["mode"], []).append(float(row["delivered_per_s"]))
print("\nmode      runs  delivered msg/s (median)  per run")
for mode, values in rate.items():
    print(f"{mode:8} {len(values):5}  {statistics.median(values):24.1f}  {' '.join(f'{v:.1f}' for v in values)}")
if "postfix" in rate:
    pf = statistics.median(rate["postfix"])
    for mode in ("dns", "routes"):
        if mode in rate:
            print(f"ratio mailnode-{mode}/postfix: {statistics.median(rate[mode]) / pf:.2f}")
EOF
