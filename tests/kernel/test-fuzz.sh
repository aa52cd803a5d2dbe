#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the VM (scripts/vm-test --fuzz -- sh tests/kernel/test-fuzz.sh): the
# netlink fuzzer (as root, then as nobody) and the socket-call fuzzer
# (without, then with descriptor passing), each seeded and bounded in time.
# After each run the module's use count must fall back to zero (every graft
# socket freed) and dmesg must stay clean; vm-cmd.sh then checks dmesg and
# rmmod once more.
#
#   GRAFT_FUZZ_SEED  seed (default: the time)     GRAFT_FUZZ_NL  netlink messages (100000)
#   GRAFT_FUZZ_SECS  seconds per socket run (60)  GRAFT_FUZZ_THREADS  workers (4)
#   GRAFT_FUZZ_SCM   "0 1": the descriptor-passing settings to run, in order
. "$(dirname "$0")/lib.sh"
set -u

SEED=${GRAFT_FUZZ_SEED:-$(date +%s)}
NLN=${GRAFT_FUZZ_NL:-100000}
SECS=${GRAFT_FUZZ_SECS:-60}
THREADS=${GRAFT_FUZZ_THREADS:-4}
SCM=${GRAFT_FUZZ_SCM:-0 1}
FAILS=0

log "fuzz: kernel $(uname -r), seed $SEED"

# The module's use count, once every graft socket should be gone.  The Unix
# garbage collector runs on the next Unix socket close, so give it a few.
refcnt_settles() {
	i=0
	while [ "$(cat /sys/module/af_graft/refcnt)" != 0 ]; do
		i=$((i + 1))
		[ $i -ge 50 ] && return 1
		python3 -c 'import socket; a, b = socket.socketpair(); a.close(); b.close()' 2>/dev/null
		sleep 0.2
	done
}

after_run() { # after_run WHAT SCM
	if ! refcnt_settles; then
		n=$(cat /sys/module/af_graft/refcnt)
		if [ "$2" = 1 ]; then
			log "FAIL $1: af_graft use count stays at $n after the fuzzer exited (2 a graft socket never freed)." \
				"The run without descriptor passing settled, so this is most likely an SCM_RIGHTS cycle" \
				"through graft sockets' unix host queues that af_graft's collector did not break:" \
				"rmmod af_graft will fail with 'in use'"
		else
			log "FAIL $1: af_graft use count stays at $n after the fuzzer exited, without descriptor passing: graft sockets leaked"
		fi
		FAILS=$((FAILS + 1))
	fi
	if ! check_dmesg; then
		log "FAIL $1: the kernel complained (above)"
		FAILS=$((FAILS + 1))
	fi
}

run() { # run WHAT CMD... : bounded by the fuzzer itself, plus a watchdog
	what=$1; shift
	start=$(date +%s)
	"$@"
	rc=$?
	if [ $rc = 0 ]; then
		log "ok   $what ($(( $(date +%s) - start ))s)"
	else
		log "FAIL $what: exit $rc"
		FAILS=$((FAILS + 1))
	fi
}

# af_graft's collector of descriptor cycles through unix host sockets logs
# each cycle it breaks (unixgc_debug); gc_report sums them up by shape: the
# kinds of its sockets, "(L)" for a listener, e.g. "graft+unix".
P=/sys/module/af_graft/parameters
[ -w $P/unixgc_debug ] && echo 1 >$P/unixgc_debug
gc_report() {
	log "collector: $(cat $P/unixgc_collected 2>/dev/null || echo '?') graft socket(s) cut loose so far; cycles by shape:"
	dmesg | awk '
		/unixgc: breaking/ { if (sig != "") n[sig]++; sig = ""; next }
		/unixgc:   / { k = $0; sub(/.*unixgc:   /, "", k); sub(/:.*/, "", k)
			if ($0 ~ /listening/) k = k "(L)"
			sig = sig (sig == "" ? "" : "+") k }
		END { if (sig != "") n[sig]++; for (s in n) printf "vm:   %6d  %s\n", n[s], s }' | sort -rn
}

run "nlfuzz as root" "$BIN/nlfuzz" -n "$NLN" -t $((SECS * 4)) -s "$SEED"
after_run "nlfuzz as root" 0
run "nlfuzz as nobody" "$BIN/nlfuzz" -n $((NLN / 5)) -t "$SECS" -s "$((SEED + 1))" -u 65534
after_run "nlfuzz as nobody" 0
for scm in $SCM; do
	run "sockfuzz, descriptor passing $scm" "$BIN/sockfuzz" -t "$SECS" -s "$SEED" -j "$THREADS" -S "$scm"
	after_run "sockfuzz, descriptor passing $scm" "$scm"
	gc_report
done
log "fuzz: $FAILS failure(s)"
[ $FAILS = 0 ]
