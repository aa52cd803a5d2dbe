#!/usr/bin/env bash
# bench/vm-bench.sh — the reduced benchmark run inside the VM of scripts/vm-test
# (af_graft.ko loaded), started by scripts/bench as
#     scripts/vm-test -- bash bench/vm-bench.sh [--reps N] [--secs S]
#         [--crr-spin] [--no-tp] [--ko KO] [--lib SO]
# It prints one "GBENCH {json}" line per measurement on the console; the host
# side collects them. Nothing is judged here: the VM runs under TCG, so only
# the ratios to the VM's own loopback mean anything (bench/vm-ratios.py LOG:
# the paired ones). --secs: the length of each measurement (1).
#
# Each repetition measures every path per metric, the VM loopback and the
# grafted client (egress) next to each other, in an order turned around every
# other repetition. RR measures against servers that spin (-S, see rr.c);
# crr against servers that sleep in epoll_wait(): a spinning server takes a
# whole vCPU of the two from the client's threads while it has a connection,
# so with it the connection rate measures how the VM's scheduler shares the
# vCPUs out rather than the connections (--crr-spin adds "crrs", crr against
# the spinning servers, as before; --no-tp leaves out throughput). --ko/--lib: this af_graft.ko (loaded in
# place of vm-test's) and libgraft.so, to measure an older build in the VM.
#
#   VM init netns: clients; servers on 127.0.0.1:5201/7000 (vm-loopback)
#     | veth gbv0 198.18.2.1/30         | AF_GRAFT (ep-iperf -> 127.0.0.1:15201,
#   $V: servers on 198.18.2.2 (vm-veth)  |           ep-rr    -> 127.0.0.1:17000)
#                                      $G: lo only; servers under the preload,
#                                          kernel backend (graft-kernel)
#
# Every rr server runs on CPU 0 and every rr client on CPU 1 (rr -C), as on
# the host: left to the VM's scheduler, `rr crr` paths read a placement as
# much as a path. Measured with bench/vm-crr.sh --place (docs/kernel-matrix.md,
# session 9; 20 repetitions of 1 s): pinned this way the egress/loopback crr
# ratio read 0.78-0.80 on 6.1 and 6.12 in three runs each, repetitions mostly
# within 0.72-0.88; unpinned it read 0.89-0.91 on 6.1 and 0.80-0.84 on 6.12,
# the loopback slowed by the scheduler's placement (1,290 against 1,830
# connections/s, neither vCPU busy) rather than egress made faster.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
REPS=2 CRRS=0 NOTP=0 KO=
T_TP=1 T_RR=1 T_CRR=1
LIB=$ROOT/preload/build/libgraft.so
SRV=() CLI=() # rr's -C for servers and clients (above), where there are two CPUs
if (($(nproc) >= 2)); then SRV=(-C 0) CLI=(-C 1); fi
while (($#)); do
	case $1 in
	--reps) REPS=$2; shift 2 ;;
	--secs) T_TP=$2 T_RR=$2 T_CRR=$2; shift 2 ;;
	--crr-spin) CRRS=1; shift ;;
	--no-tp) NOTP=1; shift ;;
	--ko) KO=$2; shift 2 ;;
	--lib) LIB=$2; shift 2 ;;
	*) echo "vm-bench: unknown option $1" >&2; exit 2 ;;
	esac
done
NL=${GRAFT_VM_OUT:-$ROOT/kernel/build}/tests/nltest
RR=$ROOT/bench/build/rr
V=vbv-$$ G=vbg-$$
T=$(mktemp -d /tmp/vb.XXXXXX)
PIDS=()
cleanup() {
	for n in $V $G; do kill $(ip netns pids "$n" 2>/dev/null) 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$V" 2>/dev/null
	ip netns del "$G" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

emit() { printf 'GBENCH %s\n' "$*"; }
skip() { emit "{\"path\": \"$1\", \"skipped\": \"$2\"}"; }
wait_listen() { # wait_listen PORT: a TCP listener in the init netns, up to 10 s
	for _ in $(seq 100); do
		[[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]] && return 0
		sleep 0.1
	done
	return 1
}
wait_listen_ns() {
	for _ in $(seq 100); do
		[[ -n $(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null) ]] && return 0
		sleep 0.1
	done
	return 1
}
bg() { "$@" & PIDS+=($!); }

for f in "$RR" "$LIB" "$NL"; do
	[[ -x $f || -f $f ]] || { skip graft-kernel "$f missing"; exit 0; }
done
command -v iperf3 >/dev/null || { skip graft-kernel "no iperf3 in the VM"; exit 0; }

if [[ -n $KO ]]; then
	rmmod af_graft 2>/dev/null
	insmod "$KO" || { skip graft-kernel "cannot load $KO"; exit 0; }
fi

# Same host port range tuning as the host side.
sysctl -qw net.ipv4.ip_local_port_range="10000 64999"
declare -A TARGET=()

bg iperf3 -s -B 127.0.0.1 -p 5201 >"$T/lo-iperf.log" 2>&1
bg "$RR" server -b 127.0.0.1 -p 7000 -t 600 -S "${SRV[@]}" >"$T/lo-rr.log" 2>&1
bg "$RR" server -b 127.0.0.1 -p 7001 -t 600 "${SRV[@]}" >"$T/lo-crr.log" 2>&1
wait_listen 5201 && wait_listen 7000 && wait_listen 7001 && TARGET[vm-loopback]="127.0.0.1 5201 7000 7001" ||
	skip vm-loopback "servers did not start"

ip netns add "$V" && ip -n "$V" link set lo up
modprobe veth 2>/dev/null
if ip link add gbv0 type veth peer name eth0 netns "$V"; then
	ip addr add 198.18.2.1/30 dev gbv0 && ip link set gbv0 up
	ip -n "$V" addr add 198.18.2.2/30 dev eth0 && ip -n "$V" link set eth0 up
	ip -n "$V" route add default via 198.18.2.1
	bg ip netns exec "$V" iperf3 -s -p 5201 >"$T/v-iperf.log" 2>&1
	bg ip netns exec "$V" "$RR" server -p 7000 -t 600 -S "${SRV[@]}" >"$T/v-rr.log" 2>&1
	bg ip netns exec "$V" "$RR" server -p 7001 -t 600 "${SRV[@]}" >"$T/v-crr.log" 2>&1
	wait_listen_ns "$V" 5201 && wait_listen_ns "$V" 7000 && wait_listen_ns "$V" 7001 &&
		TARGET[vm-veth]="198.18.2.2 5201 7000 7001" || skip vm-veth "servers did not start"
else
	skip vm-veth "no veth in the VM"
fi

ip netns add "$G" && ip -n "$G" link set lo up
if ip netns exec "$G" "$NL" add ep-iperf ipv4 127.0.0.1 15201 &&
	ip netns exec "$G" "$NL" add ep-rr ipv4 127.0.0.1 17000 &&
	ip netns exec "$G" "$NL" add ep-crr ipv4 127.0.0.1 17001 &&
	ip netns exec "$G" "$NL" add ep-out ipv4 127.0.0.1 dynamic; then
	genv=(env GRAFT_BACKEND=kernel LD_PRELOAD="$LIB")
	bg ip netns exec "$G" "${genv[@]}" GRAFT_INGRESS_CONVERT=0.0.0.0:5201=ep-iperf iperf3 -s -4 -p 5201 >"$T/g-iperf.log" 2>&1
	bg ip netns exec "$G" "${genv[@]}" GRAFT_INGRESS_CONVERT=0.0.0.0:7000=ep-rr "$RR" server -p 7000 -t 600 -S "${SRV[@]}" >"$T/g-rr.log" 2>&1
	bg ip netns exec "$G" "${genv[@]}" GRAFT_INGRESS_CONVERT=0.0.0.0:7001=ep-crr "$RR" server -p 7001 -t 600 "${SRV[@]}" >"$T/g-crr.log" 2>&1
	if wait_listen 15201 && wait_listen 17000 && wait_listen 17001; then
		TARGET[graft-kernel]="127.0.0.1 15201 17000 17001"
		# graft-kernel-egress: a grafted client in $G, servers on the VM's loopback.
		TARGET[graft-kernel-egress]="127.0.0.1 5201 7000 7001"
	else
		skip graft-kernel "grafted servers did not appear on the VM's loopback: $(tail -n 2 "$T"/g-*.log | tr '\n"' ' ')"
	fi
else
	skip graft-kernel "nltest could not add the endpoints"
fi

# measure PATH METRIC REP
measure() {
	local addr pip prr pcrr out=$T/$1.$2.$3 cl=()
	read -r addr pip prr pcrr <<<"${TARGET[$1]}"
	[[ $1 == graft-kernel-egress ]] &&
		cl=(ip netns exec "$G" "${genv[@]}" GRAFT_EGRESS_CONVERT=127.0.0.0/8=ep-out)
	nstat -n >/dev/null 2>&1
	case $2 in
	tp1) timeout $((${T_TP%.*} + 31)) "${cl[@]}" iperf3 -c "$addr" -p "$pip" -t "$T_TP" -J >"$out" 2>&1 ;;
	rr) timeout 30 "${cl[@]}" "$RR" rr -S -H "$addr" -p "$prr" -d "$T_RR" "${CLI[@]}" >"$out" 2>&1 ;;
	crr) timeout 30 "${cl[@]}" "$RR" crr -H "$addr" -p "$pcrr" -d "$T_CRR" -c 2 "${CLI[@]}" >"$out" 2>&1 ;;
	crrs) timeout 30 "${cl[@]}" "$RR" crr -H "$addr" -p "$prr" -d "$T_CRR" -c 2 "${CLI[@]}" >"$out" 2>&1 ;;
	esac || { echo "vm-bench: $1 $2 #$3 failed: $(head -c 200 "$out")" >&2; return 0; }
	# What else happened meanwhile: TCP stalls (SYNs sent again, listen
	# queue drops) and the CPU time (ticks) each server took so far.
	printf 'vm-bench: %s %s #%s: %s; servers %s\n' "$1" "$2" "$3" \
		"$(nstat 2>/dev/null | awk '/SynRetrans|ListenDrops|ListenOverflows|TcpRetransSegs/ {printf "%s %s ", $1, $2}')" \
		"$(for p in "${PIDS[@]}"; do for c in $(pgrep -P "$p") "$p"; do
			[[ -r /proc/$c/stat ]] && awk -v c="$c" '{printf "%s:%s:%d ", c, $2, $14 + $15}' "/proc/$c/stat"
		done; done)" >&2
	python3 - "$1" "$2" "$3" "$out" <<-'EOF'
		import json, sys
		path, metric, rep, f = sys.argv[1:]
		text = open(f).read()
		rec = {"path": path, "metric": metric, "rep": int(rep)}
		try:
		    if metric == "tp1":
		        s = json.loads(text)["end"]["sum_received"]
		        rec.update(gbps=s["bits_per_second"] / 1e9, bytes=s["bytes"])
		    else:
		        rec.update(json.loads(text.strip().splitlines()[-1]))
		except (ValueError, KeyError, IndexError):
		    sys.exit(0)
		print("GBENCH " + json.dumps(rec), flush=True)
	EOF
}

METRICS=(tp1 rr crr)
((NOTP)) && METRICS=(rr crr)
((CRRS)) && METRICS+=(crrs)
for rep in $(seq "$REPS"); do
	order=(vm-loopback graft-kernel-egress graft-kernel vm-veth)
	((rep % 2)) || order=(vm-veth graft-kernel graft-kernel-egress vm-loopback)
	for metric in "${METRICS[@]}"; do
		for path in "${order[@]}"; do
			[[ $path == graft-kernel-egress && $metric == tp1 ]] && continue
			[[ -n ${TARGET[$path]:-} ]] && measure "$path" "$metric" "$rep"
		done
	done
	echo "vm-bench: repetition $rep/$REPS done" >&2
done
exit 0
