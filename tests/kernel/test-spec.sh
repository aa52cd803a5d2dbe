#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# libgraft's speculative sockets on the kernel backend: once a process has
# grafted a TCP client onto a dynamic endpoint, its socket() makes the
# AF_GRAFT socket at once, bound to that endpoint (no namespace socket made
# and thrown away at connect()).  tests/preload/spec_check.py's checks, with
# GRAFT_BACKEND=kernel:
#
#   init netns: peer_server.py on 0.0.0.0:$R and [::1]:$R (answers "peer ADDR")
#   $C1 (lo up): ep-out  ipv4 127.0.0.2 dynamic   <- 127.0.0.1/32
#                ep-out2 ipv4 127.0.0.4 dynamic   <- 127.0.0.6/32
#                ep-out6 ipv6 ::1 dynamic         <- ::1/128
#                127.0.0.3: not mapped, stays in $C1
. "$(dirname "$0")/lib.sh"
set -u

C1=gsp-c1-$$
R=18500
LIB=$GRAFT_REPO/preload/build/libgraft.so
PY=/usr/bin/python3
test_begin gspec "$C1"
[ -f "$LIB" ] || { log "libgraft.so not built ($LIB)"; exit 1; }

n1() { ip netns exec "$C1" "$@"; }
n1 "$NL" add ep-out ipv4 127.0.0.2 dynamic && n1 "$NL" add ep-out2 ipv4 127.0.0.4 dynamic &&
	n1 "$NL" add ep-out6 ipv6 ::1 dynamic || { log "cannot add the endpoints"; exit 1; }
bg peer4 "$PY" "$GRAFT_REPO/tests/tools/peer_server.py" tcp 0.0.0.0 "$R" 600
bg peer6 "$PY" "$GRAFT_REPO/tests/tools/peer_server.py" tcp ::1 "$R" 600
wait_for peer4 ready && wait_for peer6 ready || exit 1

spec_run() { # spec_run MODE [VAR=VALUE...]: spec_check.py in $C1, kernel backend
	mode=$1
	shift
	n1 env LD_PRELOAD="$LIB" GRAFT_BACKEND=kernel \
		GRAFT_EGRESS_CONVERT="127.0.0.1/32=ep-out 127.0.0.6/32=ep-out2 ::1/128=ep-out6" \
		"$@" timeout 300 "$PY" "$GRAFT_REPO/tests/preload/spec_check.py" "$mode" "$R"
}

spec_run main >"$T/main.out" 2>&1
echo "exit $?" >>"$T/main.out"
while read -r word rest; do
	case $word in
	ok) pass "speculative: $rest" ;;
	FAIL) fail "speculative: $rest" ;;
	exit) [ "$rest" = 0 ] || fail "speculative: spec_check.py main exited $rest" ;;
	*) fail "speculative: unexpected output: $word $rest" ;;
	esac
done <"$T/main.out"
out=$(spec_run names GRAFT_NAMES=host 2>&1)
check "speculative: GRAFT_NAMES=host shows the AF_GRAFT socket's host name ($out)" \
	[ "$out" = "names 127.0.0.2 0 True" ]
out=$(spec_run adapt GRAFT_VERBOSE=1 2>"$T/adapt.err")
check "speculative: swapped back 17 times of 17, the process stops speculating ($(echo $out))" \
	[ "$out" = "$(printf 'stocked 17\nlate namespace')" ]
check "speculative: the pause is traced" \
	grep -q "no stocked sockets for 1000 ms: most speculative sockets were not used" "$T/adapt.err"
out=$(spec_run adapt GRAFT_POOL=0 2>&1)
check "speculative: GRAFT_POOL=0 turns it off ($(echo $out))" \
	[ "$out" = "$(printf 'stocked 0\nlate namespace')" ]
check "no graft socket left in $C1" sh -c "[ -z \"\$(ip netns exec $C1 $NL socks)\" ]"

[ $FAILS = 0 ] || { log "$FAILS check(s) failed"; exit 1; }
exit 0
