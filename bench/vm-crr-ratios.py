#!/usr/bin/env python3
"""bench/vm-crr-ratios.py LOG [BASE]: the paired ratios of bench/vm-crr.sh.

For every path but BASE (default lo), each repetition's conn/s over BASE's
of the same repetition, and for "both-eg" over "both-lo": the median and
the range, the ratio of the totals, and the CPU time per connection."""
import json
import statistics
import sys

recs = []
for line in open(sys.argv[1], errors="replace"):
    i = line.find("GCRR ")
    if i >= 0:
        try:
            recs.append(json.loads(line[i + 5:]))
        except ValueError:
            pass
base = sys.argv[2] if len(sys.argv) > 2 else "lo"
by = {}
for r in recs:
    by.setdefault(r["path"], {})[r["rep"]] = r


def rate(r):
    return r["r"]["conn_per_s"]


def cpu_us(r):  # busy jiffies (USER_HZ 100) per connection, in us
    return r["cpu"][0] * 1e4 / max(r["r"]["connections"], 1)


pairs = [(p, base) for p in by if p != base and not p.startswith("both-")
         and not p.endswith("1")]
pairs += [(p, p.replace("eg", "lo")) for p in by if p.endswith("1") and p.startswith("eg")]
pairs += [("kl", "kp"), ("kg", "kp")]
pairs = [(p, r) for p, r in pairs if p in by and r in by]
if "both-eg" in by:
    pairs.append(("both-eg", "both-lo"))
for path, ref in pairs:
    reps = sorted(set(by[path]) & set(by.get(ref, {})))
    if not reps:
        continue
    ratios = [rate(by[path][k]) / rate(by[ref][k]) for k in reps]
    tot = sum(rate(by[path][k]) for k in reps) / sum(rate(by[ref][k]) for k in reps)
    print(f"{path} / {ref}: median {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}-{max(ratios):.2f}), totals {tot:.2f}, {len(reps)} reps; "
          f"{ref} {statistics.median(rate(by[ref][k]) for k in reps):.0f}/s median; "
          "each: " + " ".join(f"{x:.2f}" for x in ratios))
for path in by:
    v = [cpu_us(r) for r in by[path].values()]
    print(f"{path}: busy CPU per connection {statistics.median(v):.0f} us median "
          f"({min(v):.0f}-{max(v):.0f})")
