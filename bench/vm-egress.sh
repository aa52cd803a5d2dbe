#!/usr/bin/env bash
# bench/vm-egress.sh — where a grafted connect() spends its time, in the VM of
# scripts/vm-test (af_graft.ko loaded):
#     scripts/vm-test --kernel 6.1 -- bash bench/vm-egress.sh [--reps N] [--strace]
# Against an `rr server` on the VM's loopback, in interleaved repetitions, one
# thread each (bench/kconn.c says what each mode does):
#   loopback   kconn plain from the init namespace
#   module     kconn graft from a namespace with a dynamic endpoint: af_graft only
#   emulate    kconn emulate there: libgraft's system calls by hand
#   libgraft   kconn plain there under libgraft (kernel backend, egress mapping)
# Prints one "GBENCH {json}" line per measurement and the TIME_WAIT count each
# path leaves (SO_LINGER 0 closes should leave none). Under TCG only ratios
# and differences mean anything.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
REPS=3 STRACE=0 PERF=0 SECS=2
while (($#)); do
	case $1 in
	--reps) REPS=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--strace) STRACE=1; shift ;;
	--perf) PERF=1; shift ;;
	*) echo "vm-egress: unknown option $1" >&2; exit 2 ;;
	esac
done
LIB=$ROOT/preload/build/libgraft.so
NL=${GRAFT_VM_OUT:-$ROOT/kernel/build}/tests/nltest
RR=$ROOT/bench/build/rr
KC=$ROOT/bench/build/kconn
G=vbe-$$
T=$(mktemp -d /tmp/ve.XXXXXX)
PIDS=()
cleanup() {
	kill $(ip netns pids "$G" 2>/dev/null) 2>/dev/null
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$G" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
for f in "$RR" "$KC" "$LIB" "$NL"; do
	[[ -x $f || -f $f ]] || { echo "vm-egress: $f missing" >&2; exit 1; }
done
sysctl -qw net.ipv4.ip_local_port_range="10000 64999"
"$RR" server -b 127.0.0.1 -p 7000 -t 900 >"$T/rr.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	[[ -n $(ss -Hltn "sport = :7000") ]] && break
	sleep 0.1
done
ip netns add "$G" && ip -n "$G" link set lo up
ip netns exec "$G" "$NL" add ep-out ipv4 127.0.0.1 dynamic || exit 1
genv=(env GRAFT_BACKEND=kernel LD_PRELOAD="$LIB" GRAFT_EGRESS_CONVERT=127.0.0.0/8=ep-out)

tw() { ss -Htan state time-wait | wc -l; }
# GMARK lines let bench/vm-egress-host read QEMU's CPU time around each one.
run() { # run PATH CMD...: one measurement
	local path=$1 out
	shift
	echo "GMARK begin"
	out=$("$@" 2>&1 | tail -n 1)
	echo "GMARK end"
	printf 'GBENCH {"path": "%s", "rep": %d, "tw": %d, "r": %s}\n' "$path" "$rep" "$(tw)" "${out:-null}"
}
echo "GBENCH {\"null\": $("$KC" null -n 20000)}"
for rep in $(seq "$REPS"); do
	run loopback "$KC" plain -H 127.0.0.1 -p 7000 -d "$SECS"
	run module ip netns exec "$G" "$KC" graft -e ep-out -H 127.0.0.1 -p 7000 -d "$SECS"
	run emulate ip netns exec "$G" "$KC" emulate -e ep-out -H 127.0.0.1 -p 7000 -d "$SECS"
	run libgraft ip netns exec "$G" "${genv[@]}" "$KC" plain -H 127.0.0.1 -p 7000 -d "$SECS"
	run crr-loopback "$RR" crr -H 127.0.0.1 -p 7000 -d "$SECS" -c 2
	run crr-libgraft ip netns exec "$G" "${genv[@]}" "$RR" crr -H 127.0.0.1 -p 7000 -d "$SECS" -c 2
done
if ((STRACE)) && command -v strace >/dev/null; then
	for m in loopback libgraft; do
		echo "vm-egress: strace -c, $m, 300 connections" >&2
		if [[ $m == loopback ]]; then
			strace -f -c -o "$T/st" "$KC" plain -H 127.0.0.1 -p 7000 -n 300 >/dev/null
		else
			ip netns exec "$G" strace -f -c -o "$T/st" "${genv[@]}" "$KC" plain -H 127.0.0.1 -p 7000 -n 300 >/dev/null
		fi
		sed "s/^/strace $m: /" "$T/st"
	done
fi
if ((PERF)) && perf version >/dev/null 2>&1; then
	for m in loopback libgraft; do
		echo "vm-egress: perf, rr crr -c 2, $m" >&2
		cl=()
		[[ $m == libgraft ]] && cl=(ip netns exec "$G" "${genv[@]}")
		perf record -q -e cpu-clock -a -g -o "$T/perf.data" -- \
			"${cl[@]}" "$RR" crr -H 127.0.0.1 -p 7000 -d 3 -c 2 2>&1 | tail -n 1 | sed "s/^/perf $m: /"
		perf report -q -i "$T/perf.data" --stdio --no-children --sort sym -g none \
			--percent-limit 0.7 2>/dev/null | sed "s/^/perf $m: /" | head -n 70
		perf report -q -i "$T/perf.data" --stdio --children --sort sym -g none \
			--percent-limit 4 2>/dev/null | sed "s/^/perf-children $m: /" | head -n 70
	done
fi
exit 0
