# Shared by bench/relay.sh and bench/mx.sh (sourced, not run): smtp-sink, the mailnode relay node
# (`mailnode up --next-hop`), the throwaway Postfix instance and one timed smtp-source run.
# Expects REPO WORK N SIZE RUN_LIMIT MN_PORT PF_PORT SINK_PORT PEERS PF MAILNODE HZ and die().
# Seconds since 1970 with microseconds, without a process (bash 5's EPOCHREALTIME): the run
# loop below polls while the servers are measured, and every process it starts takes CPU from them.
now() { echo "$EPOCHREALTIME"; }
POLL=${POLL:-0.1}   # seconds between the run loop's looks at smtp-source and the sink
ulimit -n 65536 2>/dev/null || true

# ---- smtp-sink ----------------------------------------------------------------------------
SINK_PID=
start_sink() {
    smtp-sink -u nobody -m 1000 -c ${SINK_DUMP:+-d "$SINK_DUMP"} 127.0.0.1:$SINK_PORT 1024 >"$WORK/sink.out" 2>&1 &
    SINK_PID=$!
    for _ in $(seq 100); do ss -ltn "sport = :$SINK_PORT" | grep -q LISTEN && return; sleep 0.05; done
    die "smtp-sink did not start"
}
stop_sink() { [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null; SINK_PID=; }
# messages the sink counted so far (its -c counter: "\rsess=N quit=N mesg=N")
sink_count() {   # the last mesg=N smtp-sink -c printed (one tail, the rest in bash)
    local last; last=$(tail -c 200 "$WORK/sink.out" 2>/dev/null); last=${last##*mesg=}
    [[ $last =~ ^[0-9]+ ]] && echo "${BASH_REMATCH[0]}"
}

# ---- mailnode -----------------------------------------------------------------------------
MN_PID=
start_mailnode() {
    rm -rf "$WORK/mn-spool"
    : >"$WORK/mailnode.log"   # else the wait below may find the previous run's 'mailnode up' line
    "$MAILNODE" up --listen 127.0.0.1:$MN_PORT --hostname mx.bench.local --domain bench.test \
        --spool "$WORK/mn-spool" --next-hop 127.0.0.1:$SINK_PORT --log-level notice >"$WORK/mailnode.log" 2>&1 &
    MN_PID=$!
    for _ in $(seq 200); do grep -q 'mailnode up' "$WORK/mailnode.log" && return; sleep 0.05; done
    cat "$WORK/mailnode.log"; die "mailnode did not start"
}
stop_mailnode() { [ -n "$MN_PID" ] && kill -TERM "$MN_PID" 2>/dev/null && wait "$MN_PID" 2>/dev/null; MN_PID=; }
mn_cpu() { awk -v hz="$HZ" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$MN_PID/stat" 2>/dev/null || echo 0; }
mn_queue() { ls -f "$WORK/mn-spool/queue" 2>/dev/null | grep -vc '^\.\.\?$'; }
# the hooks run() calls per server: SERVER_start (sets PORT), SERVER_cpu, SERVER_queue, SERVER_stop
mailnode_start() { start_mailnode; PORT=$MN_PORT; }
mailnode_cpu() { mn_cpu; }
mailnode_queue() { mn_queue; }
mailnode_stop() { stop_mailnode; }

# ---- Postfix instance (never /etc/postfix) ------------------------------------------------
. "$REPO/bench/postfix_lib.sh"
pf_setup() {
    pf stop >/dev/null 2>&1 || true
    rm -rf "$PF"; mkdir -p "$PF/etc" "$PF/spool" "$PF/data"
    sed -e "s#@PF_ROOT@#$PF#g" -e "s#@SINK_PORT@#$SINK_PORT#g" "$PEERS/postfix-config/main.cf.in" >"$PF/etc/main.cf"
    sed -e "s#^2525 #$PF_PORT #" "$PEERS/postfix-config/master.cf" >"$PF/etc/master.cf"
    pf_launch
}
postfix_start() { PORT=$PF_PORT; }
postfix_cpu() { pf_cpu; }
postfix_queue() { pf_queue; }
postfix_stop() { :; }
cleanup() { stop_sink; stop_mailnode; pf stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- one run ------------------------------------------------------------------------------
# SOURCE_ARGS: smtp-source's message and envelope options (relay.sh's: SIZE octets of payload)
SOURCE_ARGS=(-l "$SIZE" -M bench.local -f sender@bench.local -t rcpt@bench.test)
# run SERVER CONC -> one CSV line (SERVER has the hooks SERVER_start/_cpu/_queue/_stop):
# server,conc,n,accept_s,accepted_per_s,e2e_s,delivered_per_s,cpu_us_per_msg,sink_count,queue_left,source_rc
run() {
    local server=$1 c=$2 cpu0 cpu1 t0 t_acc= t_end= src rc=0 cnt=0 left
    start_sink
    "${server}_start"; cpu0=$("${server}_cpu")
    t0=$(now)
    smtp-source "${SOURCE_ARGS[@]}" -m "$N" -s "$c" 127.0.0.1:$PORT >"$WORK/source.out" 2>&1 &
    # (smtp-source stops at its first error, e.g. a refused connect; run() is retried once then)
    src=$!
    while :; do
        if [ -z "$t_acc" ] && ! kill -0 $src 2>/dev/null; then wait $src; rc=$?; t_acc=$(now); fi
        if [ -n "$t_acc" ] && [ "$rc" != 0 ]; then   # smtp-source gave up: do not wait for the rest
            cp "$WORK/source.out" "$WORK/source-fail-$server-$c.out"; cp "$WORK/sink.out" "$WORK/sink-fail-$server-$c.out"
            echo "  $server c=$c: smtp-source exit $rc: $(tail -1 "$WORK/source.out")" >&2; t_end=$(now); break; fi
        cnt=$(sink_count); cnt=${cnt:-0}
        if [ -n "$t_acc" ] && [ "$cnt" -ge "$N" ]; then t_end=$(now); break; fi
        if (( ${EPOCHREALTIME%.*} - ${t0%.*} > RUN_LIMIT )); then echo "  run limit hit ($cnt delivered)" >&2; t_end=$(now); break; fi
        sleep "$POLL"
    done
    [ -n "$t_acc" ] || { kill $src 2>/dev/null; wait $src; rc=124; t_acc=$t_end; }
    # let the spool / queue settle (the state removal follows the sink's 250)
    for _ in $(seq 100); do
        left=$("${server}_queue")
        [ "$left" = 0 ] && break; sleep 0.1
    done
    cpu1=$("${server}_cpu"); "${server}_stop"
    cnt=$(sink_count); stop_sink
    awk -v s="$server" -v c="$c" -v n="$N" -v t0="$t0" -v ta="$t_acc" -v te="$t_end" -v c0="$cpu0" -v c1="$cpu1" \
        -v cnt="${cnt:-0}" -v left="$left" -v rc="$rc" 'BEGIN {
        printf "%s,%d,%d,%.3f,%.1f,%.3f,%.1f,%.0f,%d,%d,%d\n", s, c, n, ta - t0, n / (ta - t0), te - t0, n / (te - t0),
            (c1 - c0) * 1e6 / n, cnt, left, rc }'
}

