#!/usr/bin/env python3
"""bench/vm-egress-perf.py LOG [BASE PATH...]: bench/vm-egress.sh --perf,
per connection.

For each symbol, the cpu-clock samples (2 kHz, whole VM) per 100
connections of each path, and each path's difference to BASE (default
loopback): where a grafted connection spends more. "self" counts the
function itself, "children" the function with everything it calls."""
import collections
import sys

log = sys.argv[1]
base = sys.argv[2] if len(sys.argv) > 2 else "loopback"
want = sys.argv[3:] or None
self_, child, conns = collections.defaultdict(dict), collections.defaultdict(dict), {}
for line in open(log, errors="replace"):
    f = line[max(line.find("perfn"), line.find("perfc"), 0):].split()
    try:
        if len(f) == 5 and f[0] == "perfn":
            _, path, n, samples, sym = f
            if int(n):
                self_[sym][path] = int(samples) * 100.0 / int(n)
        elif len(f) == 6 and f[0] == "perfc":
            _, path, n, total, pct, sym = f
            if int(n):
                child[sym][path] = float(pct) / 100 * int(total) * 100.0 / int(n)
        else:
            continue
        conns[path] = int(n)
    except ValueError:
        continue
paths = want or [p for p in ("loopback", "module", "libgraft", "crr-loopback", "crr-libgraft") if p in conns]
for title, table in (("self", self_), ("children", child)):
    print(f"{title}: samples per 100 connections; connections {conns}")
    diff = lambda d: max(d.get(p, 0) - d.get(base, 0) for p in paths)
    print("%-36s " % "symbol" + " ".join("%12s" % p[:12] for p in paths))
    for sym, d in sorted(table.items(), key=lambda kv: -diff(kv[1]))[:50]:
        print("%-36s " % sym[:36] + " ".join("%12.1f" % d.get(p, 0) for p in paths))
