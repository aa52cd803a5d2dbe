#!/usr/bin/env python3
"""bench/vm-ratios.py LOG...: paired ratios of bench/vm-bench.sh's output.

Each repetition's graft-kernel measurement is divided by the VM loopback's
of the same repetition (measured moments apart, under the same load); the
table gives the median and the range over the repetitions, and the loopback's
median absolute value. RR p50 and "setup out" (the time socket() plus
connect() took in `rr crr`) are times: lower is better."""
import json
import statistics
import sys

COLS = [  # (label, path, metric, field)
    ("throughput", "graft-kernel", "tp1", "gbps"),
    ("RR p50", "graft-kernel", "rr", "p50_us"),
    ("conn/s in", "graft-kernel", "crr", "conn_per_s"),
    ("RR p50 egress", "graft-kernel-egress", "rr", "p50_us"),
    ("conn/s out", "graft-kernel-egress", "crr", "conn_per_s"),
    ("setup out", "graft-kernel-egress", "crr", "connect_us"),  # socket()+connect()
    ("conn/s out -S", "graft-kernel-egress", "crrs", "conn_per_s"),  # --crr-spin
    ("setup out -S", "graft-kernel-egress", "crrs", "connect_us"),
]
recs = {}
for name in sys.argv[1:]:
    for line in open(name, errors="replace"):
        i = line.find("GBENCH {")
        if i < 0:
            continue
        try:
            r = json.loads(line[i + 7:])
        except ValueError:
            continue
        if "metric" in r:
            recs[(name, r["path"], r["metric"], r["rep"])] = r
for label, path, metric, field in COLS:
    ratios, base, each = [], [], []
    for (name, p, m, rep), r in recs.items():
        lo = recs.get((name, "vm-loopback", m, rep))
        if p != path or m != metric or not lo or field not in r or not lo.get(field):
            continue
        ratios.append(r[field] / lo[field])
        base.append(lo[field])
        each.append(f"{r[field] / lo[field]:.2f} ({lo[field]:.0f})")
    if ratios:
        print(f"{label:14s} {statistics.median(ratios):5.2f}  ({min(ratios):.2f}-{max(ratios):.2f}, "
              f"n={len(ratios)}, loopback median {statistics.median(base):.1f} {field})")
        if metric in ("crr", "crrs") and field == "conn_per_s":
            print(f"{'':14s} each: " + ", ".join(each) + " (ratio (loopback))")
    elif metric != "crrs":
        print(f"{label:14s}     -")
