#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `graft inspect` finds kernel-backend grafted sockets (GRAFT_CMD_SOCK_GET).
#
#   +------------------------------------------------------------+
#   | init netns ("host"): lo 127.0.0.1                           |
#   |   python3 client --TCP--> 127.0.0.1:$PORT (host socket,      |
#   |                             held by af_graft.ko, no fd)     |
#   +-----------------------------^------------------------------+
#                                 | graft
#   +-----------------------------|------------------------------+
#   | $C1: lo only                                                |
#   |   endpoint web: ipv4 127.0.0.1 port $PORT                    |
#   |   graft --backend kernel run -i 0.0.0.0:$PORT=web --         |
#   |       python3 -m http.server $PORT  (its fds: graft sockets) |
#   +------------------------------------------------------------+
#
# inspect (text and -j) must name $C1, python3 and its PID, the endpoint,
# the listener's host address, the accepted connection (state, peer, bytes)
# and the host namespace the sockets live in.  Every piece is checked.
. "$(dirname "$0")/lib.sh"
set -u

GRAFT=$GRAFT_REPO/.tools/bin/graft
C1=gi-c1-$$
PORT=18480
T=$(mktemp -d /tmp/gi.XXXXXX)
PIDS=""
FAILS=0

cleanup() {
	kill $(ip netns pids "$C1" 2>/dev/null) 2>/dev/null
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	ip netns del "$C1" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

START=$(date +%s)
WAIT_TRIES=300

[ -x "$GRAFT" ] || { log "FAIL $GRAFT missing (run scripts/setup)"; exit 1; }
[ -f "$GRAFT_REPO/preload/build/libgraft.so" ] ||
	{ log "FAIL preload/build/libgraft.so missing (make -C preload)"; exit 1; }
command -v python3 >/dev/null || { log "FAIL python3 missing"; exit 1; }

ip netns add "$C1" && ip -n "$C1" link set lo up || { log "cannot create $C1"; exit 1; }
HOST_INO=$(stat -L -c %i /proc/1/ns/net)

check "ep add web in $C1 (kernel backend)" \
	"$GRAFT" --backend kernel -n "$C1" ep add web type ipv4 addr 127.0.0.1 port $PORT

# The grafted server.  python3 prints nothing when it starts listening, so
# wait for the kernel to list its listener.
"$GRAFT" --backend kernel -n "$C1" run -i 0.0.0.0:$PORT=web -- \
	python3 -m http.server $PORT --bind 0.0.0.0 >"$T/server.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until ip netns exec "$C1" "$GRAFT_VM_OUT/tests/nltest" socks 2>/dev/null | grep -q "state 10"; do
	i=$((i + 1))
	if [ $i -ge 300 ]; then
		fail "grafted http.server never listened"; sed 's/^/     | /' "$T/server.log"
		exit 1
	fi
	sleep 0.1
done
pass "grafted http.server listens (kernel lists it in $C1)"

SPID=
for p in $(ip netns pids "$C1"); do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = python3 ] && SPID=$p
done
[ -n "$SPID" ] && pass "server is python3, pid $SPID, in $C1" ||
	{ fail "no python3 process in $C1"; exit 1; }

# A host client that connects, sends 3 bytes (no end of line: the server's
# handler keeps waiting, so the connection stays established) and stays.
python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET")
print("connected", s.getsockname()[1], flush=True)
time.sleep(120)
' $PORT >"$T/client.log" 2>&1 &
PIDS="$PIDS $!"
wait_for client "^connected" || { fail "host client could not connect to 127.0.0.1:$PORT"; exit 1; }
CPORT=$(sed -n 's/^connected //p' "$T/client.log")
pass "host client connected from 127.0.0.1:$CPORT"

# The kernel's view, raw: wait until the 3 bytes are counted.
i=0
until ip netns exec "$C1" "$GRAFT_VM_OUT/tests/nltest" socks 2>/dev/null | grep -q "state 1 .*received 3"; do
	i=$((i + 1))
	if [ $i -ge 100 ]; then
		fail "kernel never listed the accepted connection with 3 bytes received"
		ip netns exec "$C1" "$GRAFT_VM_OUT/tests/nltest" socks 2>&1 | sed 's/^/     | /'
		break
	fi
	sleep 0.1
done

# ---- graft inspect -j ---------------------------------------------------------
if "$GRAFT" --backend kernel -j inspect >"$T/inspect.json" 2>"$T/inspect.err"; then
	pass "graft inspect -j"
else
	fail "graft inspect -j exited $?"; sed 's/^/     | /' "$T/inspect.err"
fi
check "inspect -j: $C1, python3 pid $SPID, endpoint web, LISTEN on 127.0.0.1:$PORT and the connection from :$CPORT" \
	python3 - "$T/inspect.json" "$C1" "$SPID" "$PORT" "$CPORT" "$HOST_INO" <<'EOF'
import json, sys
path, ns, pid, port, cport, host_ino = sys.argv[1:]
r = json.load(open(path))
assert r["kernel"]["available"], "kernel backend not reported available"
mine = [n for n in r["namespaces"] if n["name"] == ns]
assert mine, f"namespace {ns} missing: {[n['name'] for n in r['namespaces']]}"
n = mine[0]
assert any(e["name"] == "web" and e["source"] == "kernel" for e in n["endpoints"]), \
    f"endpoint web missing: {n['endpoints']}"
g = [s for s in n["grafted"] if s["pid"] == int(pid)]
assert g, f"no grafted socket of pid {pid}: {n['grafted']}"
def one(state):
    hits = [s for s in g if s["state"] == state]
    assert len(hits) == 1, f"want one {state} socket, got {g}"
    s = hits[0]
    assert s["comm"] == "python3", s
    assert s["endpoint"] == "web", s
    assert s["netns"] == ns, s
    assert s["proto"] == "tcp" and s["family"] == "ipv4", s
    assert s["local"] == f"127.0.0.1:{port}", s
    assert s["backend"] == "kernel", s
    assert s["socketNetnsIno"] == int(host_ino) and s["socketNetns"] == "host", s
    assert s["fds"], s
    return s
one("LISTEN")
est = one("ESTAB")
assert est["remote"] == f"127.0.0.1:{cport}", est
assert est["bytesReceived"] == 3, est
assert est["bytesSent"] == 0, est
hosts = [x for x in r["namespaces"] if x["host"]]
assert hosts and hosts[0]["hosted"] >= 2, f"host namespace does not count the hosted sockets: {hosts}"
print("inspect -j ok:", json.dumps(g))
EOF

# ---- graft inspect (text) -----------------------------------------------------
if "$GRAFT" --backend kernel inspect --width 200 >"$T/inspect.txt" 2>"$T/inspect.err"; then
	pass "graft inspect"
else
	fail "graft inspect exited $?"; sed 's/^/     | /' "$T/inspect.err"
fi
text_has() { # text_has DESCRIPTION EXTENDED-REGEX
	if grep -Eq -- "$2" "$T/inspect.txt"; then pass "inspect: $1"; else
		fail "inspect: $1 (no line matches /$2/)"; sed 's/^/     | /' "$T/inspect.txt"
	fi
}
text_has "names $C1" "^$C1 \\(netns [0-9]+, named\\)"
text_has "lists endpoint web" "^  web +ipv4 +127\\.0\\.0\\.1:$PORT +host +kernel"
text_has "python3 pid $SPID holds a LISTEN socket via web in host" \
	"^  $SPID +python3 +web +tcp +LISTEN +host "
text_has "python3 pid $SPID holds an ESTAB socket via web" \
	"^  $SPID +python3 +web +tcp +ESTAB +host +0 +3\$"
text_has "the listener's host address" "^    local 127\\.0\\.0\\.1:$PORT  remote \\*\$"
text_has "the connection's host addresses" \
	"^    local 127\\.0\\.0\\.1:$PORT  remote 127\\.0\\.0\\.1:$CPORT\$"
text_has "kernel loaded" "^kernel: af_graft loaded"
sed -n "/^$C1 /,/^\$/p" "$T/inspect.txt" | sed 's/^/     | /'

# -n restricts to one namespace.
if "$GRAFT" --backend kernel -n "$C1" inspect --width 200 >"$T/inspect-n.txt" 2>&1 &&
	grep -Eq "^  $SPID +python3 +web +tcp +LISTEN" "$T/inspect-n.txt" &&
	! grep -q "^host " "$T/inspect-n.txt"; then
	pass "inspect -n $C1 shows only $C1, with the server"
else
	fail "inspect -n $C1"; sed 's/^/     | /' "$T/inspect-n.txt"
fi

# Once the server is gone, nothing grafted is left.
kill $(ip netns pids "$C1") 2>/dev/null
i=0
while [ -n "$(ip netns pids "$C1")" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
if out=$(ip netns exec "$C1" "$GRAFT_VM_OUT/tests/nltest" socks 2>&1) && [ -z "$out" ]; then
	pass "no graft sockets left in $C1 after the server exits"
else
	fail "graft sockets left in $C1: $out"
fi

[ $FAILS = 0 ] || { log "$FAILS check(s) failed"; exit 1; }
exit 0
