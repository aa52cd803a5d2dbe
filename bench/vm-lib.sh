# bench/vm-lib.sh — sourced by bench/vm-egress.sh and bench/vm-crr.sh, which
# run in the VM of scripts/vm-test from the checkout's root ($ROOT): the
# programs they measure with, and `vm_setup NAME NETNS...`, which makes the
# scratch directory $T, removes it, the namespaces named and the processes
# in $PIDS at exit, stops when a program is missing, and widens the VM's
# ephemeral port range (a run makes tens of thousands of connections).
LIB=$ROOT/preload/build/libgraft.so
NL=${GRAFT_VM_OUT:-$ROOT/kernel/build}/tests/nltest
RR=$ROOT/bench/build/rr
KC=$ROOT/bench/build/kconn
PIDS=()

vm_setup() {
	local name=$1 f
	shift
	VM_NETNS=("$@")
	T=$(mktemp -d "/tmp/$name.XXXXXX")
	trap vm_cleanup EXIT
	for f in "$RR" "$KC" "$LIB" "$NL"; do
		[[ -x $f || -f $f ]] || { echo "$name: $f missing" >&2; exit 1; }
	done
	sysctl -qw net.ipv4.ip_local_port_range="10000 64999"
}

vm_cleanup() {
	local p n
	kill $(ip netns pids "${VM_NETNS[0]}" 2>/dev/null) 2>/dev/null
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in "${VM_NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$T"
}
