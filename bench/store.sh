#!/bin/bash
# Store benchmark (issue 8, "Show"): LMTP delivery rate into one mailbox and IMAP FETCH of the
# whole mailbox (N small messages, `FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])` over IMAPS),
# mailnode's store role next to Dovecot 2.3 (Debian `dovecot-imapd` + `dovecot-lmtpd`) set up the
# same way and measured in the same run, reported as ratios. A benchmark, NOT a CI test.
#
#   bench/store.sh                          # builds release first
#   SKIP_BUILD=1 N=10000 CONC=4 bench/store.sh
#
# Fairness: both over loopback, both with TLS on IMAP (the same test certificate), both durable
# before the LMTP 250 — mailnode fsyncs the body file, its directory and the SQLite transaction
# (synchronous=FULL); Dovecot runs with `mail_fsync = always` and the sdbox format (one file per
# message plus index, Dovecot's own recommendation over Maildir). The same Python driver
# (bench/store_bench.py) loads both, so its own cost is in both figures. Dovecot's services run as
# `nobody`; this script needs root (Dovecot's master starts as root and drops privileges).
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${WORK:-/tmp/mailnode-store-bench}
N=${N:-10000}
SIZE=${SIZE:-2048}
CONC=${CONC:-4}
RUNS=${RUNS:-3}
MN_LMTP=${MN_LMTP:-2724}
MN_IMAPS=${MN_IMAPS:-2993}
DV_LMTP=${DV_LMTP:-3724}
DV_IMAPS=${DV_IMAPS:-3993}
MAILNODE=${MAILNODE:-$REPO/.build/release/mailnode}
DRIVER=$REPO/bench/store_bench.py
CA=$REPO/Fixtures/tls/ca.pem
PASSWORD="bench-pw-1"   # no spaces: Dovecot's static passdb splits its args on them

die() { echo "store.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (Dovecot's master process)"
command -v dovecot >/dev/null || PATH=$PATH:/usr/sbin
command -v dovecot >/dev/null || die "apt-get install -y dovecot-imapd dovecot-lmtpd (policy-rc.d keeps the service stopped)"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --product mailnode || die "release build failed"
fi
[ -x "$MAILNODE" ] || die "$MAILNODE missing"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -f "$WORK/dovecot/dovecot.conf" ] && dovecot -c "$WORK/dovecot/dovecot.conf" stop 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
median() { python3 -c "import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:]), 1))" "$@"; }

start_mailnode() {
    rm -rf "$WORK/node"; mkdir -p "$WORK/node"
    echo "$PASSWORD" | "$MAILNODE" users add user@bench.test --directory "$WORK/node/spool/defenses/users.sqlite" >/dev/null \
        || die "users add failed"
    cat >"$WORK/node/mailnode.toml" <<CONF
[node]
hostname = "store.bench.test"
spool = "$WORK/node/spool"
[tls]
certificate = "$REPO/Fixtures/tls/server.pem"
key = "$REPO/Fixtures/tls/server.key"
[store]
listen = "127.0.0.1:$MN_LMTP"
pop3_listen = []
pop3s_listen = []
imaps_listen = "127.0.0.1:$MN_IMAPS"
trusted_upstreams = ["127.0.0.0/8"]
quota_bytes = 0
quota_messages = 0
CONF
    "$MAILNODE" --role store --config "$WORK/node/mailnode.toml" --log-level notice >"$WORK/node/out" 2>&1 &
    MN_PID=$!
    PIDS+=($MN_PID)
    for _ in $(seq 100); do grep -q "mailnode up" "$WORK/node/out" && return; sleep 0.1; done
    cat "$WORK/node/out"; die "mailnode did not start"
}

start_dovecot() {
    [ -f "$WORK/dovecot/dovecot.conf" ] && dovecot -c "$WORK/dovecot/dovecot.conf" stop 2>/dev/null
    sleep 0.5
    rm -rf "$WORK/dovecot"; mkdir -p "$WORK/dovecot/run" "$WORK/dovecot/home"
    chown nobody:nogroup "$WORK/dovecot/home"
    cat >"$WORK/dovecot/dovecot.conf" <<CONF
protocols = imap lmtp
listen = 127.0.0.1
base_dir = $WORK/dovecot/run
state_dir = $WORK/dovecot/state
log_path = $WORK/dovecot/dovecot.log
instance_name = mailnode-bench
ssl = required
ssl_cert = <$REPO/Fixtures/tls/server.pem
ssl_key = <$REPO/Fixtures/tls/server.key
disable_plaintext_auth = yes
auth_mechanisms = plain
mail_location = sdbox:~/mail
mail_fsync = always
first_valid_uid = 65534
passdb {
  driver = static
  args = password=$PASSWORD
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$WORK/dovecot/home/%u
}
lmtp_save_to_detail_mailbox = no
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $DV_IMAPS
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $DV_LMTP
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
CONF
    dovecot -c "$WORK/dovecot/dovecot.conf" || { cat "$WORK/dovecot/dovecot.log" 2>/dev/null; die "dovecot did not start"; }
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$DV_LMTP) 2>/dev/null && return; sleep 0.1; done
    die "dovecot's LMTP listener did not come up"
}

mkdir -p "$WORK"
echo "store benchmark: N=$N messages of $SIZE bytes, LMTP with $CONC connections, IMAPS FETCH 1:*, $RUNS runs"
echo "machine: $(nproc) cores, $(uname -r), $(dovecot --version | cut -d' ' -f1) dovecot"
declare -a MN_D MN_F DV_D DV_F
for run in $(seq "$RUNS"); do
    start_mailnode
    start_dovecot
    mn=$(python3 "$DRIVER" deliver --lmtp 127.0.0.1:$MN_LMTP --to user@bench.test --count "$N" --size "$SIZE" --conc "$CONC") || die "deliver to mailnode failed"
    dv=$(python3 "$DRIVER" deliver --lmtp 127.0.0.1:$DV_LMTP --to user@bench.test --count "$N" --size "$SIZE" --conc "$CONC") || die "deliver to dovecot failed"
    [ "$(echo "$mn" | json '["failures"]')" = 0 ] || die "mailnode refused deliveries: $mn"
    [ "$(echo "$dv" | json '["failures"]')" = 0 ] || die "dovecot refused deliveries: $dv"
    mf=$(python3 "$DRIVER" fetch --imaps localhost:$MN_IMAPS --user user@bench.test --password "$PASSWORD" --cafile "$CA" --expect "$N") || die "fetch from mailnode failed"
    df=$(python3 "$DRIVER" fetch --imaps localhost:$DV_IMAPS --user user@bench.test --password "$PASSWORD" --cafile "$CA" --expect "$N") || die "fetch from dovecot failed"
    [ "$(echo "$mf" | json '["ok"]')" = True ] || die "mailnode's fetch incomplete: $mf"
    [ "$(echo "$df" | json '["ok"]')" = True ] || die "dovecot's fetch incomplete: $df"
    MN_D+=("$(echo "$mn" | json '["per_second"]')"); DV_D+=("$(echo "$dv" | json '["per_second"]')")
    MN_F+=("$(echo "$mf" | json '["per_second"]')"); DV_F+=("$(echo "$df" | json '["per_second"]')")
    printf "run %d: LMTP mailnode %.0f/s dovecot %.0f/s; FETCH mailnode %.0f msg/s dovecot %.0f msg/s (%s vs %s bytes)\n" "$run" \
        "${MN_D[-1]}" "${DV_D[-1]}" "${MN_F[-1]}" "${DV_F[-1]}" "$(echo "$mf" | json '["bytes"]')" "$(echo "$df" | json '["bytes"]')"
    kill "$MN_PID" 2>/dev/null; wait "$MN_PID" 2>/dev/null
done
md=$(median "${MN_D[@]}"); dd=$(median "${DV_D[@]}"); mf=$(median "${MN_F[@]}"); df=$(median "${DV_F[@]}")
echo "median LMTP delivery: mailnode $md msg/s, dovecot $dd msg/s, ratio $(python3 -c "print(round($md/$dd, 2))")"
echo "median IMAP FETCH:    mailnode $mf msg/s, dovecot $df msg/s, ratio $(python3 -c "print(round($mf/$df, 2))")"
