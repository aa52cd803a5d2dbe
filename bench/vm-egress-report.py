#!/usr/bin/env python3
"""bench/vm-egress-report.py LOG: medians of bench/vm-egress-host's output.

For each path: wall-clock connections/s, the host CPU time QEMU spent per
connection (GCPU / connections), and kconn's phases (µs, wall clock)."""
import json
import statistics
import sys

rows, cpu = {}, None
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("GCPU "):
        cpu = int(line.split()[1])
        continue
    if not line.startswith("GBENCH ") or '"path"' not in line:
        continue
    rec = json.loads(line[7:])
    r = rec.get("r") or {}
    n = r.get("connections")
    if not n or cpu is None:
        continue
    d = rows.setdefault(rec["path"], {})
    d.setdefault("conn_per_s", []).append(r["conn_per_s"])
    d.setdefault("cpu_us_per_conn", []).append(cpu / n)
    for k, v in r.items():
        if k.endswith("_us"):
            d.setdefault(k, []).append(v)
    cpu = None
keys = ["conn_per_s", "cpu_us_per_conn", "socket_us", "graft_us", "connect_us", "rr_us", "close_us"]
print("%-14s %4s " % ("path", "n") + " ".join("%16s" % k for k in keys))
for path, d in rows.items():
    cells = []
    for k in keys:
        v = d.get(k)
        cells.append("%16.1f" % statistics.median(v) if v else "%16s" % "-")
    print("%-14s %4d " % (path, len(d["conn_per_s"])) + " ".join(cells))
