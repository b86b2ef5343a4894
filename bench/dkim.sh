#!/bin/bash
# DKIM verification throughput (issue 5, "Show"): verifications per second of one 10 KB message,
# rsa-sha256 (2048-bit key) and ed25519-sha256, relaxed/relaxed, by `mailnode dkim bench` and by
# dkimpy (bench/dkim_bench.py) on the SAME signed file in the same run, each on one core with the
# key record answered from memory. Prints the ratio mailnode/dkimpy. A benchmark, NOT a CI test.
#
#   bench/dkim.sh                     # builds release first
#   SKIP_BUILD=1 SECONDS_EACH=10 bench/dkim.sh
#
# Needs python3-dkim and python3-nacl (dkimpy with Ed25519), as .ci/install-deps installs them.
set -eu
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${WORK:-/tmp/mailnode-dkim-bench}
SECONDS_EACH=${SECONDS_EACH:-5}
SIZE=${SIZE:-10240}
MAILNODE=${MAILNODE:-$REPO/.build/release/mailnode}
PYTHON=${PYTHON:-/usr/bin/python3}

die() { echo "dkim.sh: $*" >&2; exit 1; }
$PYTHON -c "import dkim, nacl" 2>/dev/null || die "apt-get install -y python3-dkim python3-nacl"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --product mailnode || die "release build failed"
fi
[ -x "$MAILNODE" ] || die "$MAILNODE missing"
rm -rf "$WORK"; mkdir -p "$WORK"

# A plain-text message of SIZE octets with a typical header (CRLF line ends).
$PYTHON - "$WORK/message.eml" "$SIZE" <<'PY'
import sys
path, size = sys.argv[1], int(sys.argv[2])
header = ("From: Alice Example <alice@bench.test>\r\nTo: bob@example.org\r\nCc: carol@example.org\r\n"
          "Subject: DKIM benchmark message\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
          "Message-ID: <bench.1@bench.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
line = "The quick brown fox jumps over the lazy dog; 0123456789 and some trailing words.  \r\n"
body = ""
while len(header) + len(body) + len(line) <= size:
    body += line
body += "x" * (size - len(header) - len(body) - 2) + "\r\n"
open(path, "wb").write((header + body).encode())
PY

run() {  # algorithm key-file
    local algo=$1 key=$2
    "$MAILNODE" dkim sign --key "$key" --domain bench.test --selector "$algo" < "$WORK/message.eml" > "$WORK/$algo.eml"
    "$MAILNODE" dkim record --key "$key" > "$WORK/$algo.txt"
    local mine theirs
    mine=$("$MAILNODE" dkim bench --signed "$WORK/$algo.eml" --key "$key" --seconds "$SECONDS_EACH") || die "mailnode bench failed ($algo)"
    theirs=$($PYTHON bench/dkim_bench.py "$WORK/$algo.eml" "$WORK/$algo.txt" "$SECONDS_EACH") || die "dkimpy bench failed ($algo)"
    local a b
    a=$(sed -n 's/.*per_second=\([0-9.]*\).*/\1/p' <<<"$mine")
    b=$(sed -n 's/.*per_second=\([0-9.]*\).*/\1/p' <<<"$theirs")
    echo "mailnode: $mine"
    echo "dkimpy:   $theirs"
    printf '%-16s mailnode %10s/s   dkimpy %10s/s   ratio %s\n' "$algo" "$a" "$b" "$($PYTHON -c "print(f'{$a/$b:.2f}x')")"
}

echo "machine: $(nproc) cores, $(uname -sr); message $(wc -c < "$WORK/message.eml") octets; $SECONDS_EACH s each"
run rsa-sha256 Fixtures/dkim/dkimpy/2048_testkey.key
run ed25519-sha256 Fixtures/dkim/dkimpy/ed25519test.key
