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
scripts/bench --quick --out "$TMP" >"$TMP/log" 2>&1 &
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
import json, sys
paths = json.load(open(sys.argv[1]))["paths"]
want = ["host", "veth", "nat", "proxy", "slirp4netns", "pasta", "graft-broker", "graft-egress"]
bad = []
for p in want:
    row = paths.get(p)
    if not row:
        bad.append(f"{p}: missing")
        continue
    for k in ("rr_p50_us", "conn_per_s"):
        if not (isinstance(row.get(k), (int, float)) and row[k] > 0):
            bad.append(f"{p}.{k} = {row.get(k)!r}")
    if p != "graft-egress" and not (row.get("throughput_gbps") or 0) > 0:
        bad.append(f"{p}.throughput_gbps = {row.get('throughput_gbps')!r}")
if bad:
    print("; ".join(bad))
    sys.exit(1)
print(", ".join(f"{p} {paths[p].get('throughput_gbps') or '-'} Gbit/s" for p in want))
PY
)
[[ $? -eq 0 ]] && pass "every row present: $out" || fail "rows: $out"
# scripts/bench names its namespaces gb?-PID.
left=$(ip netns list | awk '{print $1}' | grep -E "^gb[a-z]-$BENCH\$")
[[ -z $left ]] && pass "the benchmark removed its namespaces" || fail "namespaces left by the benchmark: $left"
finish
