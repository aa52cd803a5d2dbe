#!/usr/bin/env python3
"""bench/vm-crr-sched.py PATH CONNS < `perf script` of sched:sched_switch -g.

Counts the context switches that take a thread of an `rr`/`kconn` process
off the CPU while it waits (prev_state not R), by the frames of its kernel
stack past the scheduler, and prints the most frequent ones per connection:
    sched PATH CONNS COUNT PER_CONN COMM frame<-frame<-..."""
import collections
import re
import sys

path, conns = sys.argv[1], max(int(sys.argv[2]), 1)
SKIP = re.compile(r"^(__schedule|schedule|schedule_timeout|schedule_hrtimeout_range"
                  r"|schedule_hrtimeout_range_clock|__traceiter_sched_switch"
                  r"|__pfx_|preempt_schedule|io_schedule|do_nanosleep|hrtimer_nanosleep)")
counts = collections.Counter()
cur = None
frames = []


def flush():
    if cur:
        counts[(cur, "<-".join(frames[:6]))] += 1


for line in sys.stdin:
    if not line.strip():
        flush()
        cur, frames = None, []
        continue
    if not line[0].isspace():
        flush()
        cur, frames = None, []
        m = re.search(r"prev_comm=(\S+) .*prev_state=(\S+)", line)
        if m and m.group(1) in ("rr", "kconn") and m.group(2) not in ("R", "R+"):
            cur = m.group(1) + ":" + m.group(2)
        continue
    if cur:
        parts = line.split()
        if len(parts) >= 2:
            sym = parts[1].split("+")[0]
            if not SKIP.match(sym):
                frames.append(sym)
flush()
for (who, stack), c in counts.most_common(14):
    print(f"sched {path} {conns} {c} {c / conns:.2f} {who} {stack}")
