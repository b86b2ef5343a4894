#!/usr/bin/env python3
"""Table for bench/relay.sh: relay.csv (+ latency.jsonl) -> markdown, ratio mailnode/Postfix."""
import csv
import json
import sys


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    lat = []
    if len(sys.argv) > 2:
        lat = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
    by = {(r["server"], int(r["conc"])): r for r in rows}
    concs = sorted({int(r["conc"]) for r in rows})

    def f(key, conc, field, fmt="{:,.0f}"):
        r = by.get((key, conc))
        return fmt.format(float(r[field])) if r else "-"

    def ratio(conc, field, invert=False):
        m, p = by.get(("mailnode", conc)), by.get(("postfix", conc))
        if not m or not p or float(p[field]) == 0 or float(m[field]) == 0:
            return "-"
        v = float(m[field]) / float(p[field])
        return "{:.2f}".format(1 / v if invert else v)

    print("\n| concurrency | mailnode delivered/s | Postfix delivered/s | **ratio** | mailnode accepted/s "
          "| Postfix accepted/s | ratio | CPU us/msg mailnode / Postfix | all delivered, queue empty |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in concs:
        ok = []
        for s in ("mailnode", "postfix"):
            r = by.get((s, c))
            if r:
                good = int(r["sink_count"]) == int(r["n"]) and int(r["queue_left"]) == 0 and r["source_rc"] == "0"
                ok.append(f"{s}: {'yes' if good else 'NO (sink %s, left %s, rc %s)' % (r['sink_count'], r['queue_left'], r['source_rc'])}")
        print(f"| {c} | {f('mailnode', c, 'delivered_per_s')} | {f('postfix', c, 'delivered_per_s')} | "
              f"**{ratio(c, 'delivered_per_s')}** | {f('mailnode', c, 'accepted_per_s')} | "
              f"{f('postfix', c, 'accepted_per_s')} | {ratio(c, 'accepted_per_s')} | "
              f"{f('mailnode', c, 'cpu_us_per_msg')} / {f('postfix', c, 'cpu_us_per_msg')} | {'; '.join(ok)} |")
    if lat:
        print("\n| accept latency (ms) | concurrency | msgs/s | txn p50 | txn p99 | dot->250 p50 | dot->250 p99 | max txn | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in lat:
            print(f"| {r['label']} | {r['concurrency']} | {r['msgs_per_s']} | {r['txn_p50_ms']} | {r['txn_p99_ms']} | "
                  f"{r['dot_p50_ms']} | {r['dot_p99_ms']} | {r['txn_max_ms']} | {r['errors']} |")


if __name__ == "__main__":
    main()
