#!/usr/bin/env bash
# Builds the libFuzzer target and runs it for a while: fuzz/run.sh [seconds] (default 60).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
swift build -c release --product FuzzSMTPInput
mkdir -p corpus
# Seed corpus: realistic sessions.
printf 'EHLO a\r\nMAIL FROM:<a@b> SIZE=10 BODY=8BITMIME\r\nRCPT TO:<c@d> NOTIFY=NEVER\r\nDATA\r\nx\r\n.\r\nQUIT\r\n' > corpus/session
printf 'EHLO a\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nMAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<Postmaster>\r\nBDAT 3 LAST\r\nabc' > corpus/bdat
printf '250-mx\r\n250-SIZE 10\r\n250 2.0.0 OK\r\n' > corpus/reply
.build/release/FuzzSMTPInput corpus -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
