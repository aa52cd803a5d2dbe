#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# AF_GRAFT sockets, end to end, inside the VM.
#
#   +--------------------------------------------------------------+
#   | init netns ("host"): lo 127.0.0.1 ::1                         |
#   |   socat / python clients and servers, plain AF_INET/AF_UNIX   |
#   |        ^ host sockets live here                               |
#   +--------|-----------------------------------------------------+
#            | graft (one network stack, no veth)
#   +--------|-------------+   +------------------+  +---------------+
#   | $C1: lo only          |   | $C2: lo only      |  | $C3: lo only   |
#   |  endpoints ep-*        |   |  no endpoints     |  |  ep-hold       |
#   |  graftsock programs    |   |  (isolation)      |  |  (netns del)   |
#   +-----------------------+   +------------------+  +---------------+
#
# Every wait is bounded; every namespace is removed in cleanup.
. "$(dirname "$0")/lib.sh"
set -u

C1=gt-c1-$$
C2=gt-c2-$$
C3=gt-c3-$$
test_begin gt "$C1" "$C2" "$C3"
UNIXPATH=$T/unix.sock

n1() { ip netns exec "$C1" "$@"; }
n2() { ip netns exec "$C2" "$@"; }
n3() { ip netns exec "$C3" "$@"; }
wait_pid() { # wait_pid PID : bounded wait, status of the process
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -ge 300 ] && { kill "$1"; log "killed $1 after 30s"; }
		sleep 0.1
	done
	wait "$1"
}
expect_out() { # expect_out WANT CMD... : CMD's stdout must be WANT
	want=$1; shift
	got=$("$@" 2>&1)
	[ "$got" = "$want" ] || { echo "got '$got', want '$want'"; return 1; }
}
# served NAME DESC SEND WANT CLIENT SERVER...: graftsock SERVER... runs in $C1;
# once it is ready, "printf SEND | CLIENT" must print WANT (the check DESC),
# then the server must exit cleanly.
served() {
	sname=$1 sdesc=$2 ssend=$3 swant=$4 sclient=$5; shift 5
	bg "$sname" n1 "$GS" "$@"
	spid=$LASTPID
	if wait_for "$sname" ready; then
		check "$sdesc" expect_out "$swant" sh -c "printf $ssend | $sclient"
		check "graft server ($*) exits cleanly" wait_pid "$spid"
	else
		fail "graft server ($*) did not start"
	fi
}
udp_echo_host() { # a host UDP server answering "re:" + data once
	python3 -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(30)
print("ready", flush=True)
d, a = s.recvfrom(2048)
s.sendto(b"re:" + d, a)
' "$@"
}

# nsids in the init namespace for the test namespaces: the kernel drops them
# when a namespace is freed, which is how the end checks nothing leaked.
for n in $C1 $C2 $C3; do ip netns set "$n" auto; done
NSIDS=$(ip netns list-id | awk -v a="$C1" -v b="$C2" -v c="$C3" '$NF==a")" || $NF==b")" || $NF==c")" {print $2}' | tr -d ')')
nsids_alive() {
	for id in $NSIDS; do ip netns list-id | grep -qE "^nsid $id( |\$)" && return 0; done
	return 1
}
check "3 nsids assigned ($(echo $NSIDS))" test "$(echo $NSIDS | wc -w)" = 3

# ---- endpoints (defined in C1, pointing at the init namespace) -------------
check "add endpoints in $C1" sh -c "
	ip netns exec $C1 $NL add ep-srv ipv4 127.0.0.1 18080 &&
	ip netns exec $C1 $NL add ep-out ipv4 127.0.0.1 dynamic default &&
	ip netns exec $C1 $NL add ep-udp ipv4 127.0.0.1 18081 &&
	ip netns exec $C1 $NL add ep-udpc ipv4 127.0.0.1 dynamic &&
	ip netns exec $C1 $NL add ep-v6 ipv6 ::1 18082 &&
	ip netns exec $C1 $NL add ep-v6any ipv6 :: 18083 &&
	ip netns exec $C1 $NL add ep-out6 ipv6 ::1 dynamic &&
	ip netns exec $C1 $NL add ep-unix unix $UNIXPATH &&
	ip netns exec $C1 $NL add ep-hint ipv4 127.0.0.1 dynamic"
n1 "$NL" show >"$T/show.txt"
check "$C1 lists its 9 endpoints" test "$(wc -l <"$T/show.txt")" = 9
check "show uses the seed format" grep -qx "ep-srv type ipv4 addr 127.0.0.1 port 18080" "$T/show.txt"
check "init namespace has no endpoints" expect_out "" "$NL" show
check "$C2 has no endpoints" expect_out "" n2 "$NL" show

# ---- TCP server in C1, clients on the host ---------------------------------
bg srv n1 "$GS" tcp-server ep-srv 2
SRV=$LASTPID
if wait_for srv ready; then
	check "host client 1 echoes through the graft server" \
		expect_out hello-1 sh -c 'printf hello-1 | timeout 10 socat -t2 - TCP:127.0.0.1:18080'
	check "nothing listens on 127.0.0.1:18080 inside $C1" \
		sh -c "! ip netns exec $C1 timeout 5 socat -u /dev/null TCP:127.0.0.1:18080"
	check "host client 2 echoes through the graft server" \
		expect_out hello-2 sh -c 'printf hello-2 | timeout 10 socat -t2 - TCP:127.0.0.1:18080'
	check "graft server: names and accepts" wait_pid "$SRV"
	check "accepted peer is a host address" grep -q "accepted from inet 127.0.0.1:" "$T/srv.log"
	check "getsockname gives the endpoint" grep -q "getsockname: graft ep-srv" "$T/srv.log"
	check "transparent getsockname gives the host address" \
		grep -q "getsockname (transparent): inet 127.0.0.1:18080" "$T/srv.log"
else
	fail "graft TCP server did not start"
fi

# ---- TCP clients in C1, servers on the host --------------------------------
bg echo4 timeout 60 socat TCP4-LISTEN:18090,bind=127.0.0.1,reuseaddr,fork EXEC:cat
bg echo6 timeout 60 socat TCP6-LISTEN:18092,bind=[::1],reuseaddr,fork EXEC:cat
# socat starts slowly under TCG: wait (bounded) until both listen.
i=0
until ss -ltn | grep -q 127.0.0.1:18090 && ss -ltn | grep -q '\[::1\]:18092'; do
	i=$((i + 1))
	[ $i -ge 150 ] && { log "socat servers not listening after 15s"; break; }
	sleep 0.1
done
check "TCP client via dynamic endpoint ep-out" n1 "$GS" tcp-client ep-out 127.0.0.1 18090 hello-out
check "a stream socket on dynamic ep-out reserves no port until connect()" \
	n1 "$GS" port-later ep-out 127.0.0.1 18090
# linger_close L: a grafted client closes with SO_LINGER 0 (L=1: a reset, its
# host port left in no state) or without (L=0: TIME_WAIT, the control).
linger_close() {
	out=$(ip netns exec "$C1" "$GS" linger-close ep-out 127.0.0.1 18090 "$1") || return 1
	port=${out##* }
	i=0 # the echo server closes its side within 5 s
	while [ $i -lt 50 ] && ! ss -Htan state time-wait "sport = :$port" | grep -q .; do
		[ "$1" = 1 ] && [ $i -ge 5 ] && break
		i=$((i + 1))
		sleep 0.1
	done
	n=$(ss -Htan "sport = :$port" | wc -l)
	echo "host port $port: $n socket(s) left: $(ss -Htan "sport = :$port" | awk '{print $1}' | tr '\n' ' ')"
	if [ "$1" = 1 ]; then [ "$n" = 0 ]; else ss -Htan state time-wait "sport = :$port" | grep -q .; fi
}
check "SO_LINGER 0 set after connect() resets the host socket at close()" linger_close 1
check "without it the host socket closes normally (TIME_WAIT)" linger_close 0
check "TCP client via the default endpoint (no bind)" n1 "$GS" tcp-client - 127.0.0.1 18090 hello-default
check "IPv6 TCP client via ep-out6" n1 "$GS" tcp-client ep-out6 ::1 18092 hello-v6
check "non-blocking connect refused: poll + SO_ERROR" n1 "$GS" tcp-refused ep-out 127.0.0.1 18099
check "default endpoint has no IPv6 match: EDESTADDRREQ" \
	sh -c "ip netns exec $C1 $GS tcp-client - ::1 18092 x 2>&1 | grep -q 'errno 89'"

# ---- IPv6 server ------------------------------------------------------------
served srv6 "host IPv6 client echoes through the graft server" hello-six hello-six \
	'timeout 10 socat -t2 - TCP6:[::1]:18082' tcp-server ep-v6 1

# ---- IPV6_V6ONLY: kept on the host socket, honoured without IPv6 --------------
# v6only_kept VAL LOCAL IPV4: a graft socket with IPV6_V6ONLY VAL on ep-v6any
# ([::]:18083) shows as LOCAL in the host's ss, and an IPv4 connect to it is
# IPV4 (refused or accepted).
v6only_kept() {
	rm -f "$T/v6o.log"
	ip netns exec "$C1" "$GS" v6only ep-v6any "$1" >"$T/v6o.log" 2>&1 &
	p=$!
	wait_for v6o ready || { kill "$p"; return 1; }
	got=$(ss -Hltn 'sport = :18083' | awk '{print $4}')
	if timeout 10 socat -u /dev/null TCP4:127.0.0.1:18083 2>/dev/null; then v4=accepted; else v4=refused; fi
	kill "$p"; wait "$p" 2>/dev/null
	echo "ss shows '$got', IPv4 connect $v4"
	[ "$got" = "$2" ] && [ "$v4" = "$3" ]
}
check "IPV6_V6ONLY 1 kept: host socket [::]:18083, IPv4 refused" v6only_kept 1 '[::]:18083' refused
check "IPV6_V6ONLY 0 kept: host socket *:18083, IPv4 accepted" v6only_kept 0 '*:18083' accepted
check "IPV6_V6ONLY 1 onto the ipv4 ep-out: EADDRNOTAVAIL (0 binds)" n1 "$GS" v6only-refused ep-out

# ---- UDP both ways ----------------------------------------------------------
served usrv "host UDP client gets the graft server's answer" ping re:ping \
	'timeout 10 socat -t2 - UDP4:127.0.0.1:18081' udp-server ep-udp
bg uecho udp_echo_host 127.0.0.1 18091
UECHO=$LASTPID
if wait_for uecho ready; then
	check "UDP client in $C1 via ep-udpc" n1 "$GS" udp-client ep-udpc 127.0.0.1 18091 pong
	wait_pid "$UECHO" >/dev/null
else
	fail "host UDP server did not start"
fi

# ---- unix path endpoint -----------------------------------------------------
served usock "host unix client echoes through the graft server" hello-unix hello-unix \
	"timeout 10 socat -t2 - UNIX-CONNECT:$UNIXPATH" tcp-server ep-unix 1

# ---- options ----------------------------------------------------------------
check "GRAFT_PORT_HINT binds the dynamic endpoint to port 18777" n1 "$GS" port-hint ep-hint 18777

# ---- isolation --------------------------------------------------------------
check "$C2 cannot bind ep-srv (EADDRNOTAVAIL)" n2 "$GS" bind-fail ep-srv 99
check "init namespace cannot bind ep-srv (EADDRNOTAVAIL)" "$GS" bind-fail ep-srv 99
check "deleting ep-hint" n1 "$NL" del ep-hint
check "deleted endpoint cannot be bound" n1 "$GS" bind-fail ep-hint 99

# ---- an endpoint targeting another namespace (C2) --------------------------
bg sleeper n2 sleep 60
i=0; C2PID=""
while [ -z "$C2PID" ] && [ $i -lt 50 ]; do C2PID=$(ip netns pids "$C2" | head -n1); sleep 0.1; i=$((i + 1)); done
check "add ep-c2 in $C1 targeting $C2 by pid" n1 "$NL" add ep-c2 ipv4 127.0.0.1 18100 pid "$C2PID"
check "ep-c2 shows its netns pid and nsid" sh -c "ip netns exec $C1 $NL get ep-c2 | grep -q 'netns $C2PID nsid'"
served srvc2 "client inside $C2 reaches the graft server of $C1" via-c2 via-c2 \
	"ip netns exec $C2 timeout 10 socat -t2 - TCP:127.0.0.1:18100" tcp-server ep-c2 1
kill "$C2PID" 2>/dev/null

# ---- namespace deletion -----------------------------------------------------
check "add ep-hold in $C3" n3 "$NL" add ep-hold ipv4 127.0.0.1 18200
bg hold n3 "$GS" hold ep-hold
HOLD=$LASTPID
if wait_for hold held; then
	check "host sees the held listener" sh -c 'ss -ltn | grep -q 127.0.0.1:18200'
	HOLDERS=$(ip netns pids "$C3")
	check "ip netns del $C3 with a grafted socket open" ip netns del "$C3"
	kill $HOLDERS "$HOLD"; wait "$HOLD" 2>/dev/null
	i=0; while ss -ltn | grep -q 127.0.0.1:18200 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	check "host socket released after the process exits" sh -c '! ss -ltn | grep -q 127.0.0.1:18200'
else
	fail "hold did not start"
fi
check "ip netns del $C2 (still referenced by ep-c2)" ip netns del "$C2"
check "ip netns del $C1 with 9 endpoints defined" ip netns del "$C1"

i=0; while nsids_alive && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
if nsids_alive; then
	fail "a deleted namespace is still alive after 20s (leaked reference): $(ip netns list-id | tr '\n' ' ')"
else
	pass "all three namespaces were freed (no reference leaked)"
fi

log "test-sock: $FAILS failure(s)"
[ "$FAILS" = 0 ]
