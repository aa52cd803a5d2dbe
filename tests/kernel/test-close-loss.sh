#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Nothing is lost at close(): a grafted sender writes N bytes and closes at
# once over a lossy link; the receiver must get all N bytes and EOF, and no
# orphaned socket may outlive the namespaces.
#
#   +------------------------+   +---------------------------+   +----------------+
#   | $C: lo only            |   | $S: the host side          |   | $R             |
#   |  ep-loss -> $S         |==>|  host sockets live here    |   |  losstest recv |
#   |  198.18.0.1 dynamic    |   |  vS 198.18.0.1/30 ---------|---|- vR .0.2/30   |
#   |  losstest send (graft) |   |  netem loss on vS egress   |   |                |
#   +------------------------+   +---------------------------+   +----------------+
#
# Two kinds of runs:
#   blackout  connect, then the link drops everything, the sender queues N
#             bytes and closes, the link comes back (lossless) 1 s later:
#             every byte and the FIN need a timer-driven retransmission
#             after close() (a socket whose timers stop at close, as kernel
#             sockets' do since 6.9 and in stable, never delivers them)
#   random    LOSS on the link throughout, N bytes written then close()
# Bounded: each receiver gives up after IDLE s without data.
. "$(dirname "$0")/lib.sh"
set -u

LT=$BIN/losstest
RUNS=${GRAFT_LOSS_RUNS:-10}
RANDOM_RUNS=${GRAFT_LOSS_RANDOM_RUNS:-2}
BYTES=${GRAFT_LOSS_BYTES:-262144}
RANDOM_BYTES=${GRAFT_LOSS_RANDOM_BYTES:-1048576}
LOSS=${GRAFT_LOSS:-20%}
IDLE=${GRAFT_LOSS_IDLE:-45}
C=gl-c-$$ S=gl-s-$$ R=gl-r-$$

orphans() { awk '/^TCP:/ { for (i = 2; i < NF; i++) if ($i == "orphan") print $(i + 1) }' /proc/net/sockstat; }
loss() { ip netns exec "$S" tc qdisc change dev vS root netem loss "$1"; }

modprobe -q sch_netem 2>/dev/null
modprobe -q veth 2>/dev/null
# Let SO_SNDBUF hold the whole blackout payload.
sysctl -qw net.core.wmem_max=16777216
ORPHANS0=$(orphans)
test_begin gl "$C" "$S" "$R"
for n in $C $S $R; do ip netns set "$n" auto; done
NSIDS=$(ip netns list-id | awk -v a="$C" -v b="$S" -v c="$R" '$NF==a")" || $NF==b")" || $NF==c")" {print $2}' | tr -d ')')
ip link add vS netns "$S" type veth peer name vR netns "$R" || exit 1
ip -n "$S" addr add 198.18.0.1/30 dev vS && ip -n "$S" link set vS up
ip -n "$R" addr add 198.18.0.2/30 dev vR && ip -n "$R" link set vR up
ip netns exec "$S" tc qdisc add dev vS root netem loss "$LOSS" || { log "FAIL: no netem"; exit 1; }
ip netns exec "$S" sleep 600 &
SPID=$!
PIDS="$PIDS $SPID"
sleep 0.2
check "endpoint ep-loss in $C targets $S" ip netns exec "$C" "$NL" add ep-loss ipv4 198.18.0.1 dynamic pid "$SPID"

PORT=6000
start_receiver() { # start_receiver NAME: a receiver on the next port, ready
	PORT=$((PORT + 1))
	ip netns exec "$R" "$LT" recv 198.18.0.2 "$PORT" "$IDLE" >"$T/$1.recv.log" 2>&1 &
	RPID=$!
	wait_for "$1.recv" ready
}
# delivered NAME WANT: the receiver got WANT bytes and EOF
delivered() {
	wait "$RPID"
	grep -q "RECV bytes=$2 eof=1" "$T/$1.recv.log" || {
		echo "sender: $(cat "$T/$1.send.log"); receiver: $(cat "$T/$1.recv.log")"
		ip netns exec "$S" ss -tnoi state all "( dport = :$PORT )" | tail -n +2
		return 1
	}
}

blackout_run() { # blackout_run I
	name=blackout$1
	start_receiver "$name" || { fail "$name: receiver did not start"; return; }
	rm -f "$T/go"; mkfifo "$T/go"
	ip netns exec "$C" "$LT" send ep-loss 198.18.0.2 "$PORT" "$BYTES" wait <"$T/go" >"$T/$name.send.log" 2>&1 &
	SND=$!
	exec 3>"$T/go"
	if wait_for "$name.send" connected; then
		loss 100%
		echo go >&3
		wait_for "$name.send" SENT
		sleep 1
	fi
	exec 3>&-
	loss 0%
	wait "$SND"
	check "$name: $BYTES bytes queued under a blackout, closed, all delivered" delivered "$name" "$BYTES"
	loss "$LOSS"
}

random_run() { # random_run I
	name=random$1
	start_receiver "$name" || { fail "$name: receiver did not start"; return; }
	ip netns exec "$C" "$LT" send ep-loss 198.18.0.2 "$PORT" "$RANDOM_BYTES" >"$T/$name.send.log" 2>&1
	check "$name: $RANDOM_BYTES bytes at $LOSS loss, closed at once, all delivered" \
		delivered "$name" "$RANDOM_BYTES"
}

for i in $(seq "$RUNS"); do blackout_run "$i"; done
for i in $(seq "$RANDOM_RUNS"); do random_run "$i"; done
log "retransmitted segments on $S: $(ip netns exec "$S" nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ {print $2}')"

# ---- leaks: orphans and namespaces ------------------------------------------
# The runs are over: on a lossless link every close can finish (a last FIN or
# ACK lost to netem is sent again). A host socket that can never finish, with
# no timer left (the bug this test is for), stays an orphan and fails below.
loss 0%
i=0
while [ "$(orphans)" != "$ORPHANS0" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill "$SPID" 2>/dev/null
for n in $C $S $R; do ip netns del "$n"; done
nsids_alive() {
	for id in $NSIDS; do ip netns list-id | grep -qE "^nsid $id( |\$)" && return 0; done
	return 1
}
i=0
while { nsids_alive || [ "$(orphans)" != "$ORPHANS0" ]; } && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "no orphaned TCP socket left (sockstat orphan $(orphans), was $ORPHANS0)" test "$(orphans)" = "$ORPHANS0"
nsids_gone() { ! nsids_alive; }
check "the three namespaces were freed" nsids_gone

log "test-close-loss: $FAILS failure(s)"
[ "$FAILS" = 0 ]
