#!/usr/bin/env python3
"""bench/vm-egress-report.py LOG: medians of bench/vm-egress.sh's output
(through bench/vm-egress-host, which adds QEMU's CPU time, or a plain
vm-test console log).

For each path: wall-clock connections/s, the host CPU time QEMU spent per
connection (GCPU / connections, when known), kconn's phases (µs, wall
clock, means) and its median connection ("median_us"); "x lo" is the
median over repetitions of the path's median connection time divided by
the loopback's of the same repetition. Pair runs (kconn pair: plain and
graft connections in turn) give the median per-connection ratio and
phases of each side."""
import json
import statistics
import sys

rows, pairs, cpu, byrep = {}, {}, None, {}
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("GCPU "):
        cpu = int(line.split()[1])
        continue
    i = line.find("GBENCH {")
    if i < 0 or '"path"' not in line:
        continue
    rec = json.loads(line[i + 7:])
    r = rec.get("r") or {}
    if r.get("mode") == "pair":
        d = pairs.setdefault(rec["path"], {})
        d.setdefault("ratio", []).append(r["graft_over_plain"])
        for side in ("plain", "graft"):
            for k, v in r[side].items():
                if k.endswith("_us"):
                    d.setdefault(f"{side}.{k}", []).append(v)
        cpu = None
        continue
    n = r.get("connections")
    if not n:
        continue
    d = rows.setdefault(rec["path"], {})
    d.setdefault("conn_per_s", []).append(r["conn_per_s"])
    if cpu is not None:
        d.setdefault("cpu_us_per_conn", []).append(cpu / n)
    for k, v in r.items():
        if k.endswith("_us"):
            d.setdefault(k, []).append(v)
    byrep.setdefault(rec["rep"], {})[rec["path"]] = r
    cpu = None
for rep, paths in byrep.items():
    lo = paths.get("loopback", {}).get("median_us")
    for p, r in paths.items():
        if lo and r.get("median_us"):
            rows[p].setdefault("x_lo", []).append(r["median_us"] / lo)
    for p, r in paths.items():
        base = "crr-loopback-spin" if p.endswith("-spin") else "crr-loopback"
        lo = paths.get(base, {}).get("conn_per_s")
        if lo and p.startswith("crr-") and r.get("conn_per_s"):
            rows[p].setdefault("x_lo", []).append(lo / r["conn_per_s"])
keys = ["conn_per_s", "cpu_us_per_conn", "socket_us", "graft_us", "connect_us", "rr_us", "close_us",
        "median_us", "x_lo"]
med = lambda v: statistics.median(v) if v else None
print("%-16s %4s " % ("path", "n") + " ".join("%10s" % k.replace("_us", "")[:10] for k in keys))
for path, d in rows.items():
    cells = ["%10.2f" % med(d[k]) if d.get(k) else "%10s" % "-" for k in keys]
    print("%-16s %4d " % (path, len(d["conn_per_s"])) + " ".join(cells))
print("(x_lo: per repetition, median connection time / the loopback's; crr: loopback conn/s / the path's,"
      " against the same server)")
for path, d in pairs.items():
    rs = d["ratio"]
    print(f"{path}: graft/plain per connection {med(rs):.3f} ({min(rs):.3f}-{max(rs):.3f}, n={len(rs)})")
    for side in ("plain", "graft"):
        print("  %-6s " % side + " ".join(
            "%s %.1f" % (k.split(".")[1].replace("_us", ""), med(v)) for k, v in d.items() if k.startswith(side + ".")))
