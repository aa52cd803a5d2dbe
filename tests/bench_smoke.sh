#!/usr/bin/env bash
# The benchmark still runs end to end and produces every row (short run, no
# VM). Only presence and sanity are checked here: performance is judged from
# the full side-by-side run (./scripts/bench), not from a timed test.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d /tmp/graft-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
if ! scripts/bench --quick --out "$OUT" >"$OUT/log" 2>&1; then
	tail -20 "$OUT/log"
	echo "FAIL: scripts/bench --quick failed" >&2
	exit 1
fi
python3 - "$OUT/latest.json" <<'PY'
import json, sys
paths = json.load(open(sys.argv[1]))["paths"]
want = ["host", "veth", "nat", "proxy", "graft-broker", "graft-egress"]
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
for b in bad:
    print("FAIL:", b)
print("ok: all rows present:", ", ".join(f"{p} {paths[p].get('throughput_gbps') or '-'} Gbit/s" for p in want if p in paths))
sys.exit(1 if bad else 0)
PY
