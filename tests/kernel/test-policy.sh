#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# What a graft socket and an endpoint may not do, each refusal performed as
# the attacker would.
#
#   +-------------------------------------------------------------+
#   | init netns ("host"): veth $IFA (UP), a SO_REUSEPORT server    |
#   |   on 127.0.0.1:18300, unix servers on abstract and path names |
#   +------------------------------|------------------------------+
#                                  | graft
#   +------------------------------|------------------------------+
#   | $C ("container", root without a user namespace): endpoints   |
#   |   ep-udp (dynamic), ep-rp (:18300), ep-rpok (:18301         |
#   |   reuseport), ep-un (unix), ep-unabs (unix abstract)        |
#   +-------------------------------------------------------------+
. "$(dirname "$0")/lib.sh"
set -u

C=gp-c-$$
IFA=gpa$$ IFB=gpb$$
ABS=graft-abs-$$
cleanup_extra() { ip link del "$IFA" 2>/dev/null; }
test_begin gp "$C"

n1() { ip netns exec "$C" "$@"; }
refused() { # refused MESSAGE CMD... : CMD fails and says MESSAGE
	msg=$1; shift
	if "$@" >"$T/refused.out" 2>&1; then echo "succeeded: $(cat "$T/refused.out")"; return 1; fi
	grep -q "$msg" "$T/refused.out" || { echo "refused without '$msg': $(cat "$T/refused.out")"; return 1; }
}

ip netns exec "$C" sleep 600 &
PIDS="$PIDS $!"
i=0 CPID=""
while [ -z "$CPID" ] && [ $i -lt 50 ]; do CPID=$(ip netns pids "$C" | head -n1); sleep 0.1; i=$((i + 1)); done
modprobe -q veth 2>/dev/null
ip link add "$IFA" type veth peer name "$IFB" && ip link set "$IFA" up && ip link set "$IFB" up || exit 1

# ---- endpoints: who may add which -------------------------------------------
check "root without CAP_SYS_ADMIN: endpoint into the init namespace refused" \
	refused "a target in another namespace needs CAP_SYS_ADMIN over it" \
	n1 setpriv --bounding-set -sys_admin "$NL" add ep-x ipv4 127.0.0.1 80
check "root without CAP_SYS_ADMIN: endpoint into its own namespace allowed" \
	n1 setpriv --bounding-set -sys_admin "$NL" add ep-own ipv4 127.0.0.1 80 pid "$CPID"
check "root without CAP_NET_ADMIN: endpoint refused" \
	refused "adding endpoints needs CAP_NET_ADMIN" \
	n1 setpriv --bounding-set -net_admin "$NL" add ep-y ipv4 127.0.0.1 80 pid "$CPID"
check "endpoints for the rest" sh -c "
	ip netns exec $C $NL add ep-udp ipv4 127.0.0.1 dynamic &&
	ip netns exec $C $NL add ep-rp ipv4 127.0.0.1 18300 &&
	ip netns exec $C $NL add ep-rpok ipv4 127.0.0.1 18301 reuseport &&
	ip netns exec $C $NL add ep-un unix $T/un.sock &&
	ip netns exec $C $NL add ep-unabs unix $T/unabs.sock abstract"
check "ep show lists the flags" sh -c "ip netns exec $C $NL show | grep -qx 'ep-rpok type ipv4 addr 127.0.0.1 port 18301 reuseport' &&
	ip netns exec $C $NL show | grep -qx 'ep-unabs type unix path $T/unabs.sock abstract'"

# ---- sockets: protocols and ioctls ------------------------------------------
check "only TCP and UDP sockets" n1 "$GS" protocols
check "FIONREAD/SIOCOUTQ/SIOCGSTAMP forwarded; SIOCSIFFLAGS on host $IFA refused" n1 "$GS" ioctls ep-udp "$IFA"
check "host $IFA is still up" sh -c "ip link show $IFA | grep -q '[<,]UP[,>]'"

# ---- SO_REUSEPORT -------------------------------------------------------------
bg rpsrv python3 -c '
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 18300)); s.listen(8)
print("ready", flush=True); time.sleep(120)'
# Kernels before 6.2 never pass setsockopt(SOL_SOCKET) to af_graft and refuse
# SO_REUSEPORT on AF_GRAFT sockets themselves (EOPNOTSUPP): graftsock then
# sets SOL_GRAFT GRAFT_REUSEPORT, as libgraft does. Either way af_graft
# refuses it (EPERM) on a port given by number unless the endpoint has the
# flag, and allows it where the kernel picks the port (dig's UDP client).
if wait_for rpsrv ready; then
	check "joining the host server's SO_REUSEPORT group through ep-rp refused (EPERM)" \
		n1 "$GS" reuseport ep-rp 1
	check "the host server's port still has one listener" test "$(ss -Hltn 'sport = :18300' | wc -l)" = 1
	check "a UDP socket on dynamic ep-udp hinted to port 18300 with SO_REUSEPORT refused (EPERM)" \
		n1 "$GS" reuseport-udp ep-udp 18300 1
else
	fail "SO_REUSEPORT host server did not start"
fi
check "two SO_REUSEPORT sockets through ep-rpok (flag reuseport)" n1 "$GS" reuseport ep-rpok 0 2
check "SO_REUSEPORT on a UDP client of dynamic ep-udp, port picked by the kernel: allowed" \
	n1 "$GS" reuseport-udp ep-udp 0 0

# ---- abstract unix addresses --------------------------------------------------
bg unixsrv python3 -c '
import socket, sys, time
for name, typ in (("\0" + sys.argv[1], socket.SOCK_STREAM), ("\0" + sys.argv[1] + "d", socket.SOCK_DGRAM),
                  (sys.argv[2], socket.SOCK_STREAM), (sys.argv[2] + "d", socket.SOCK_DGRAM)):
    s = socket.socket(socket.AF_UNIX, typ); s.bind(name)
    if typ == socket.SOCK_STREAM: s.listen(8)
    globals().setdefault("keep", []).append(s)
print("ready", flush=True); time.sleep(120)' "$ABS" "$T/plain.sock"
if wait_for unixsrv ready; then
	check "abstract @$ABS through ep-un refused (EPERM)" n1 "$GS" unix-connect ep-un "$T/un.sock" "@$ABS" 1
	check "a path through ep-un still connects" n1 "$GS" unix-connect ep-un "$T/un.sock" "$T/plain.sock" 0
	check "abstract @$ABS through ep-unabs (flag abstract)" \
		n1 "$GS" unix-connect ep-unabs "$T/unabs.sock" "@$ABS" 0
else
	fail "unix host servers did not start"
fi

kill $PIDS 2>/dev/null
ip netns del "$C"
log "test-policy: $FAILS failure(s)"
[ "$FAILS" = 0 ]
