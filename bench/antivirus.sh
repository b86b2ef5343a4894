#!/bin/bash
# Antivirus stage benchmark (issue 10, "Show"): messages/s through `mailnode --role antivirus`
# (MIME walk + attachment policy + clamd INSTREAM + durable spool, forwarding to smtp-sink),
# against the peer measured in the same run on the same messages: clamd's INSTREAM driven
# directly by bench/antivirus_bench.py (what any clamd client pays at least). Also the MIME walk
# and attachment policy alone (`mailnode check attachments --repeat`). Sizes 10 KB and 1 MB, clean
# multipart messages with a base64 attachment. A benchmark, NOT a CI test.
#
#   bench/antivirus.sh                      # builds release first
#   SKIP_BUILD=1 N=200 CONC=4 bench/antivirus.sh
#
# clamd runs on this repository's offline signatures (Fixtures/antivirus/db: EICAR and ClamAV's
# test file), so its own scan cost is far below that of a full freshclam database; the ratio shows
# mailnode's overhead on top of clamd, not a production scan rate.
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${WORK:-/tmp/mailnode-antivirus-bench}
N=${N:-500}
N_LARGE=${N_LARGE:-100}
CONC=${CONC:-4}
MN_PORT=${MN_PORT:-2645}
SINK_PORT=${SINK_PORT:-2646}
CLAMD_PORT=${CLAMD_PORT:-3345}
MAILNODE=${MAILNODE:-$REPO/.build/release/mailnode}
DRIVER=$REPO/bench/antivirus_bench.py

die() { echo "antivirus.sh: $*" >&2; exit 1; }
for t in smtp-sink clamd; do command -v $t >/dev/null || PATH=$PATH:/usr/sbin; done
command -v smtp-sink >/dev/null || die "apt-get install -y postfix (smtp-sink)"
command -v clamd >/dev/null || die "apt-get install -y clamav-daemon clamav"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --product mailnode || die "release build failed"
fi
[ -x "$MAILNODE" ] || die "$MAILNODE missing"
rm -rf "$WORK"; mkdir -p "$WORK/clamd/db" "$WORK/node"
cp Fixtures/antivirus/db/* "$WORK/clamd/db/"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

cat >"$WORK/clamd/clamd.conf" <<CONF
Foreground yes
TCPSocket $CLAMD_PORT
TCPAddr 127.0.0.1
LocalSocket $WORK/clamd/clamd.sock
DatabaseDirectory $WORK/clamd/db
LogFile $WORK/clamd/clamd.log
TemporaryDirectory $WORK/clamd
SelfCheck 0
StreamMaxLength 30M
CONF
clamd -c "$WORK/clamd/clamd.conf" >"$WORK/clamd/out" 2>&1 &
PIDS+=($!)
smtp-sink -u nobody -c 127.0.0.1:$SINK_PORT 256 >"$WORK/sink.out" 2>&1 &
PIDS+=($!)

cat >"$WORK/node/mailnode.toml" <<CONF
[node]
hostname = "av.bench.test"
spool = "$WORK/node/spool"
[antivirus]
listen = "127.0.0.1:$MN_PORT"
clamd = ["unix:$WORK/clamd/clamd.sock"]
[hops.sink]
address = "127.0.0.1:$SINK_PORT"
tls = "none"
[routes]
"*" = "sink"
CONF
for _ in $(seq 200); do [ -S "$WORK/clamd/clamd.sock" ] && break; sleep 0.1; done
[ -S "$WORK/clamd/clamd.sock" ] || die "clamd did not start: $(cat "$WORK/clamd/out")"
"$MAILNODE" --role antivirus --config "$WORK/node/mailnode.toml" --log-level warning >"$WORK/node/log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do ss -ltn "sport = :$MN_PORT" | grep -q LISTEN && break; sleep 0.1; done
ss -ltn "sport = :$MN_PORT" | grep -q LISTEN || die "mailnode did not listen: $(cat "$WORK/node/log")"

echo "antivirus stage vs clamd INSTREAM alone, concurrency $CONC ($(nproc) cores), $(clamd --version)"
printf "%-6s %8s %14s %14s %7s %14s\n" size msgs "mailnode msg/s" "clamd msg/s" ratio "MIME walk msg/s"
for size in 10240 1048576; do
    n=$N; [ $size -gt 100000 ] && n=$N_LARGE
    message=$WORK/message-$size.eml
    python3 "$DRIVER" make $size "$message"
    python3 "$DRIVER" clamd "unix:$WORK/clamd/clamd.sock" "$message" $((n / 10 + 1)) $CONC >/dev/null   # warm-up
    node=$(python3 "$DRIVER" smtp $MN_PORT "$message" $n $CONC) || die "smtp run failed: $node"
    peer=$(python3 "$DRIVER" clamd "unix:$WORK/clamd/clamd.sock" "$message" $n $CONC) || die "clamd run failed: $peer"
    walk=$("$MAILNODE" check attachments --repeat $((n * 2)) <"$message" | sed -n 's/.*: \([0-9.]*\) messages\/s/\1/p')
    python3 - "$size" "$n" "$node" "$peer" "$walk" <<'PY'
import json, sys
size, n, node, peer, walk = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
label = "10KB" if int(size) < 100000 else "1MB"
print(f"{label:<6} {n:>8} {node['per_second']:>14} {peer['per_second']:>14} {node['per_second'] / peer['per_second']:>7.2f} {walk:>14}")
PY
done
# Everything forwarded: the spool drains to the sink.
for _ in $(seq 300); do [ -z "$(ls "$WORK/node/spool/queue" 2>/dev/null)" ] && break; sleep 0.1; done
echo "left in the spool: $(ls "$WORK/node/spool/queue" | wc -l)"
