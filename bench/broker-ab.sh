#!/usr/bin/env bash
# bench/broker-ab.sh — two brokers side by side on grafted `rr crr`:
#     bench/broker-ab.sh CHECKOUT_A CHECKOUT_B [REPS] [SECS]
# Each checkout's own broker (its .tools/bin/graft, after ./scripts/setup)
# listens on a socket of its own and holds the same endpoint (ep-out, port
# dynamic, into a namespace with rr's server). Per repetition: rr crr from
# that namespace (the host's rate), then through broker A, then B, with B's
# libgraft both times (only the broker differs). Prints per repetition the
# rates over the host's, each broker's CPU time per grafted connection
# (/proc/PID/stat, clock ticks) and B/A; then the medians of the paired
# figures. Take /work-wide measurement locks around it yourself; every
# client run is bounded (SECS, default 1, under timeout), REPS default 6.
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd) REPS=${3:-6} SECS=${4:-1}
for r in "$A" "$B"; do
	[[ -x $r/.tools/bin/graft ]] || { echo "broker-ab: $r/.tools/bin/graft missing (run ./scripts/setup there)" >&2; exit 1; }
done
RR=$B/bench/build/rr
[[ -x $RR ]] || make -s -C "$B/bench" >/dev/null
H=bab-h$$ CG=bab-c$$
TMP=$(mktemp -d)
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del "$H" 2>/dev/null || true
	ip netns del "$CG" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$H"
ip netns add "$CG"
ip -n "$H" link set lo up
ip -n "$CG" link set lo up
"$A/.tools/bin/graft" daemon --socket "$TMP/a.sock" 2>"$TMP/a.log" &
PA=$!
"$B/.tools/bin/graft" daemon --socket "$TMP/b.sock" 2>"$TMP/b.log" &
PB=$!
for _ in $(seq 100); do [[ -S $TMP/a.sock && -S $TMP/b.sock ]] && break; sleep 0.1; done
ip netns exec "$H" "$RR" server -p 7000 -t 900 -S >/dev/null 2>&1 &
for s in a b; do
	GRAFT_SOCKET=$TMP/$s.sock "$B/.tools/bin/graft" --backend broker -n "$CG" \
		ep add ep-out type ipv4 addr 127.0.0.1 port dynamic netns "$H" >/dev/null
done
mapfile -t ENV < <(GRAFT_SOCKET=$TMP/b.sock "$B/.tools/bin/graft" --backend broker -n "$CG" \
	run -e 127.0.0.0/8=ep-out -- /usr/bin/env | grep -E '^(LD_PRELOAD|GRAFT_)' | grep -v '^GRAFT_SOCKET=')
sleep 0.3
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
crr() { timeout "$(awk -v s="$SECS" 'BEGIN { print s + 20 }')" "$@" "$RR" crr -H 127.0.0.1 -p 7000 -d "$SECS" -c 2; }
for _ in $(seq "$REPS"); do
	h=$(crr ip netns exec "$H")
	a0=$(ticks "$PA"); a=$(crr ip netns exec "$CG" env "${ENV[@]}" GRAFT_SOCKET="$TMP/a.sock"); a1=$(ticks "$PA")
	b0=$(ticks "$PB"); b=$(crr ip netns exec "$CG" env "${ENV[@]}" GRAFT_SOCKET="$TMP/b.sock"); b1=$(ticks "$PB")
	echo "$h|$a|$b|$((a1 - a0))|$((b1 - b0))"
done | python3 -c '
import json, statistics, sys
hz = 100  # clock ticks per second (USER_HZ)
rows = []
for line in sys.stdin:
    h, a, b, ta, tb = line.strip().split("|")
    h, a, b = json.loads(h), json.loads(a), json.loads(b)
    r = (a["conn_per_s"] / h["conn_per_s"], b["conn_per_s"] / h["conn_per_s"],
         int(ta) * 1e6 / hz / a["connections"], int(tb) * 1e6 / hz / b["connections"],
         b["conn_per_s"] / a["conn_per_s"])
    rows.append(r)
    print("host %6.0f conn/s  A x%.3f (broker %5.1f us/conn)  B x%.3f (broker %5.1f us/conn)  B/A %.3f"
          % (h["conn_per_s"], r[0], r[2], r[1], r[3], r[4]))
if not rows:
    sys.exit("broker-ab: no repetition finished")
m = [statistics.median(c) for c in zip(*rows)]
lower = sum(1 for r in rows if r[3] < r[2])
print("median  A x%.3f  B x%.3f  broker us/conn A %.1f B %.1f (B lower in %d of %d)  B/A %.3f"
      % (m[0], m[1], m[2], m[3], lower, len(rows), m[4]))
'
