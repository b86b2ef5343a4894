#!/bin/bash
# Per-message counts of runtime events in the relay and the mx, from one bench/mx.sh run: Swift jobs
# run, tasks created, async lets begun, malloc calls, dynamic casts, and some syscalls. Unlike CPU time
# these do not drift with the VM, so a change of a few per cent shows (bench/README.md, mx.sh section).
# A benchmark tool, not a CI test; root, perf with uprobes (apt linux-perf), the release build.
#
#   SKIP_BUILD=1 bench/mx_counts.sh               # N=8000 messages, counted for 3 s in each server
#
# The counts are divided by the renames (one per spooled message) seen in the same window.
set -u
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "mx_counts.sh: needs perf (apt-get install -y linux-perf)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "mx_counts.sh: needs root" >&2; exit 1; }
OUT=${OUT:-/tmp/mailnode-mx-counts}
mkdir -p "$OUT"
CONCURRENCY=$(ldd .build/release/mailnode | awk '/libswift_Concurrency/ {print $3}')
SWIFTCORE=$(ldd .build/release/mailnode | awk '/libswiftCore.so/ {print $3}')
LIBC=$(ldd .build/release/mailnode | awk '/libc.so.6/ {print $3}')
probe() {   # probe LIBRARY FUNCTION: adds the uprobe unless it exists
    perf probe -l 2>/dev/null | grep -q ":$2 " || perf probe -q -x "$1" -a "$2" >/dev/null 2>&1 \
        || { echo "mx_counts.sh: cannot add a uprobe on $2 in $1" >&2; exit 1; }
}
probe "$CONCURRENCY" swift_job_run
probe "$CONCURRENCY" swift_task_create
probe "$CONCURRENCY" swift_asyncLet_begin
probe "$LIBC" malloc
probe "$SWIFTCORE" swift_dynamicCast
EVENTS=$(perf probe -l 2>/dev/null | awk '$1 ~ /:(swift_job_run|swift_task_create|swift_asyncLet_begin|malloc|swift_dynamicCast)$/ {print $1}' | paste -sd,)
EVENTS=$EVENTS,syscalls:sys_enter_rename,syscalls:sys_enter_openat,syscalls:sys_enter_fsync,syscalls:sys_enter_futex,syscalls:sys_enter_write

N=${N:-8000} bench/mx.sh >"$OUT/bench.txt" 2>&1 &
BENCH=$!
for _ in $(seq 600); do PID=$(pgrep -f "mailnode up --listen 127.0.0.1:2655"); [ -n "$PID" ] && break; sleep 0.05; done
sleep 1
perf stat -x, -e "$EVENTS" -p "$PID" -o "$OUT/relay.csv" -- sleep 3 >/dev/null 2>&1
for _ in $(seq 900); do grep -q "mx warm-up" "$OUT/bench.txt" && break; sleep 0.1; done
PID=$(pgrep -f "^[^ ]*mailnode --role mx")
sleep 1
perf stat -x, -e "$EVENTS" -p "$PID" -o "$OUT/mx.csv" -- sleep 3 >/dev/null 2>&1
wait $BENCH
python3 - "$OUT" <<'PY'
import csv, sys
out = sys.argv[1]
def load(name):
    counts = {}
    for row in csv.reader(l for l in open(f"{out}/{name}.csv") if l.strip() and not l.startswith("#")):
        try: counts[row[2].split(":")[-1]] = float(row[0])
        except (ValueError, IndexError): pass
    return counts
relay, mx = load("relay"), load("mx")
print(f"{'per message':24} {'relay':>9} {'mx':>9}")
for key in relay:
    if key == "sys_enter_rename": continue
    print(f"{key:24} {relay[key] / relay['sys_enter_rename']:9.1f} {mx.get(key, 0) / mx['sys_enter_rename']:9.1f}")
PY
grep -E "^(relay|mx)," "$OUT/bench.txt"
