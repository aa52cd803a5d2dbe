#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# iperf3 throughput inside the VM: AF_GRAFT vs loopback vs a veth pair.
# Unmodified iperf3 is converted by the preload library (kernel backend).
# Skipped when iperf3 or preload/build/libgraft.so is missing.  Fails only if
# a measurement cannot be taken; the ratios are reported, not judged (TCG).
#
#   init netns: iperf3 clients, 127.0.0.1; veth gv0 198.18.0.1/30
#     |  lo                |  graft (ep-iperf -> 127.0.0.1:5401)   | veth
#   (1) iperf3 -s 127.0.0.1:5301   (2) $C1: iperf3 -s grafted   (3) $B1: iperf3 -s on 198.18.0.2
. "$(dirname "$0")/lib.sh"
set -u

LIB=$GRAFT_REPO/preload/build/libgraft.so
SECS=${GRAFT_IPERF_SECS:-3}
command -v iperf3 >/dev/null || { log "SKIP: no iperf3"; exit 0; }
[ -f "$LIB" ] || { log "SKIP: $LIB not built (make -C preload)"; exit 0; }

C1=gi-c1-$$
B1=gi-b1-$$
T=$(mktemp -d /tmp/gi.XXXXXX)
PIDS=""
cleanup() {
	for n in $C1 $B1; do kill $(ip netns pids "$n" 2>/dev/null) 2>/dev/null; done
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	ip netns del "$C1" 2>/dev/null
	ip netns del "$B1" 2>/dev/null
	ip link del gv0 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# bps FILE: received bits per second from an iperf3 -J result
bps() {
	python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]))' "$1" 2>/dev/null
}
server() { # server NAME CMD...: start an iperf3 server, wait until it listens
	name=$1; shift
	"$@" >"$T/$name.srv" 2>&1 &
	PIDS="$PIDS $!"
	i=0
	until grep -q "listening" "$T/$name.srv" 2>/dev/null; do
		i=$((i + 1)); [ $i -ge 100 ] && { log "iperf3 server $name did not start:"; cat "$T/$name.srv"; return 1; }
		sleep 0.1
	done
}
measure() { # measure NAME HOST PORT [netns]
	timeout $((SECS + 30)) iperf3 -J -c "$2" -p "$3" -t "$SECS" >"$T/$1.json" 2>"$T/$1.err"
	v=$(bps "$T/$1.json")
	[ -n "$v" ] || { log "FAIL: iperf3 $1: $(cat "$T/$1.err")"; return 1; }
	echo "$v"
}

ip netns add "$C1" && ip -n "$C1" link set lo up || exit 1
ip netns add "$B1" && ip -n "$B1" link set lo up || exit 1
modprobe veth 2>/dev/null
ip link add gv0 type veth peer name gv1 netns "$B1" || exit 1
ip addr add 198.18.0.1/30 dev gv0 && ip link set gv0 up
ip -n "$B1" addr add 198.18.0.2/30 dev gv1 && ip -n "$B1" link set gv1 up

ip netns exec "$C1" "$GRAFT_VM_OUT/tests/nltest" add ep-iperf ipv4 127.0.0.1 5401 || exit 1

server lo iperf3 -s -1 --forceflush -B 127.0.0.1 -p 5301 || exit 1
LO=$(measure lo 127.0.0.1 5301) || exit 1

server veth ip netns exec "$B1" iperf3 -s -1 --forceflush -B 198.18.0.2 -p 5302 || exit 1
VETH=$(measure veth 198.18.0.2 5302) || exit 1

server graft ip netns exec "$C1" env GRAFT_BACKEND=kernel \
	GRAFT_INGRESS_CONVERT="0.0.0.0:5201=ep-iperf" LD_PRELOAD="$LIB" \
	iperf3 -s -1 --forceflush -4 -p 5201 || exit 1
GRAFT=$(measure graft 127.0.0.1 5401) || exit 1

python3 - "$LO" "$VETH" "$GRAFT" <<'EOF'
import sys
lo, veth, graft = (int(x) for x in sys.argv[1:])
g = lambda v: "%.2f Gbit/s" % (v / 1e9)
print("vm: iperf3 (TCG, %s): loopback %s, veth %s, AF_GRAFT %s" % ("in-VM", g(lo), g(veth), g(graft)))
print("vm: ratios: AF_GRAFT/loopback %.2f, veth/loopback %.2f, AF_GRAFT/veth %.2f"
      % (graft / lo, veth / lo, graft / veth))
EOF
