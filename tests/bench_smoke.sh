#!/usr/bin/env bash
# The benchmark still runs end to end and produces every row (short run, no
# VM). Only presence and sanity are checked here: performance is judged from
# the full side-by-side run (./scripts/bench), not from a timed test. Ends
# with a leak check: none of the benchmark's namespaces or processes remain.
set -uo pipefail
cd "$(dirname "$0")/.."
source tests/lib.sh
lib_init bench-smoke

section "scripts/bench --quick"
scripts/bench --quick --reps 1 --out "$TMP" >"$TMP/log" 2>&1 &
BENCH=$!
wait "$BENCH"
rc=$?
if ((rc == 0)); then
	pass "scripts/bench --quick finished"
else
	fail "scripts/bench --quick failed (exit $rc):"
	tail -20 "$TMP/log"
fi
out=$("$PY" - "$TMP/latest.json" 2>&1 <<'PY'
import json, os, sys
doc = json.load(open(sys.argv[1]))
paths = doc["paths"]
# Every row, and what each must have measured (iperf3 throughput, bench/rr
# request/response, connection rate).
want = {p: ("throughput_gbps", "rr_p50_us", "conn_per_s", "cpu_us_per_conn")
        for p in ("host", "veth", "nat", "proxy", "slirp4netns", "pasta", "rootlesskit", "graft-broker",
                  "graft-egress", "graft-seccomp", "graft-seccomp-egress",
                  "host6", "graft-broker6", "graft-egress6")}
want.update({p: ("throughput_gbps", "rr_p50_us") for p in ("host-udp", "graft-broker-udp", "graft-egress-udp")})
bad = []
notes = []
for p, keys in want.items():
    row = paths.get(p)
    if not row:
        bad.append(f"{p}: missing")
        continue
    # rootlesskit runs where it can (subordinate IDs, user namespaces): else its row says why.
    if p == "rootlesskit" and row.get("skipped"):
        notes.append(f"rootlesskit skipped: {row['skipped']}")
        continue
    if p in ("slirp4netns", "pasta", "rootlesskit") and p not in paths["graft-broker"].get("paired_ratio_to", {}):
        bad.append(f"no graft-broker ratio over {p}")
    for k in keys:
        if not (isinstance(row.get(k), (int, float)) and row[k] > 0):
            bad.append(f"{p}.{k} = {row.get(k)!r}")
b = doc.get("broker", {})
if not (b.get("single_p50_us", 0) > 0 and b.get("batch_us_per_socket", 0) > 0
        and b.get("floor_round_trip_us", 0) > 0 and b.get("single_over_floor", 0) > 0):
    bad.append(f"broker round trip: {b!r}")
# Where the broker ran is read from /proc for every run of 16: one of the two medians, the share, the switch floor.
if not ((b.get("single_p50_apart_us", 0) > 0 or b.get("single_p50_together_us", 0) > 0)
        and 0 <= b.get("together_share", -1) <= 1 and b.get("switch_floor_us", 0) > 0):
    bad.append(f"broker placement: {b!r}")
for t in ("graft-seccomp_throughput_vs_host", "graft-seccomp_rr_p50_vs_host", "conn_egress_target"):
    if t not in doc.get("targets", {}):
        bad.append(f"target {t} not judged")
# With two CPUs the rr peers are pinned (servers CPU 0, clients CPU 1) and
# crr1 measures host and graft-egress again with the client on CPU 0.
if len(os.sched_getaffinity(0)) >= 2:
    for p in ("host", "graft-egress"):
        if not paths.get(p, {}).get("conn_per_s_one_cpu", 0) > 0:
            bad.append(f"{p}.conn_per_s_one_cpu = {paths.get(p, {}).get('conn_per_s_one_cpu')!r}")
    if "conn_egress_one_cpu_vs_host" not in doc.get("targets", {}):
        bad.append("crr1 ratio not reported")
    raw = os.path.join(os.path.dirname(sys.argv[1]), "raw")
    for name, cpu in (("host.rr.1.json", 1), ("host.crr.1.json", 1), ("graft-egress.crr.1.json", 1),
                      ("host.crr1.1.json", 0), ("graft-egress.crr1.1.json", 0)):
        try:
            got = json.loads(open(os.path.join(raw, name)).read().strip().splitlines()[-1]).get("cpu")
        except (OSError, ValueError, IndexError) as e:
            got = f"unreadable ({e})"
        if got != cpu:
            bad.append(f"{name}: client on CPU {got!r}, not {cpu}")
if bad:
    print("; ".join(bad))
    sys.exit(1)
print(", ".join(notes + [f"{p} {paths[p]['throughput_gbps']} Gbit/s" for p in want if "skipped" not in paths[p]]))
PY
)
if [[ $? -eq 0 ]]; then
	pass "every row present: $out"
else
	fail "rows: $out"
	grep -a 'failed (exit' "$TMP/log" | head -5
fi
# scripts/bench names its namespaces gb?-PID.
left=$(ip netns list | awk '{print $1}' | grep -E "^gb[a-z]-$BENCH\$")
[[ -z $left ]] && pass "the benchmark removed its namespaces" || fail "namespaces left by the benchmark: $left"
finish
