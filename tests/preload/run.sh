#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End-to-end tests of preload/build/libgraft.so against a fake broker
# (tests/preload/fake_broker.c), before and independently of the real one.
#
#   host namespace                          namespace graft-pre-$$ (lo down)
#   +----------------------------------+    +--------------------------------+
#   | fake_broker  $T/broker.sock      |<---| python3 -m http.server  (-i)   |
#   |   ep-test   127.0.0.1:P          |    | curl                    (-e)   |
#   |   ep-test2  127.0.0.1:P+1        | fd |   LD_PRELOAD=libgraft.so       |
#   |   ep-test6  [::1]:P+2            |--->|                                |
#   |   ep-out    127.0.0.2:dynamic    |    +--------------------------------+
#   |   ep-unix   $T/http.sock         |
#   | curl / http.server (no preload)  |
#   +----------------------------------+
#
# The grafted programs run in a namespace whose loopback is down, so any
# traffic that works went through a grafted (host namespace) socket.
# Only loopback addresses are used. Exit status 0 when every check passes.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIB=$ROOT/preload/build/libgraft.so
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

make -s -C "$ROOT/preload" >/dev/null || { echo "run.sh: build failed" >&2; exit 1; }

T=$(mktemp -d /tmp/graft-preload.XXXXXX)
NS=graft-pre-$$
PIDS=()
FAILS=0
PASSES=0

cleanup() {
	local p rc=$? left
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	if [ "$FAILS" != 0 ]; then echo "logs kept in $T"; else rm -rf "$T"; fi
	# Leak check: nothing this run started may outlive it.
	left=$(pgrep -f -- "$T" | grep -vx "$$")
	if [ -n "$left" ] || ip netns list | grep -qw "$NS" ||
		{ [ "$FAILS" = 0 ] && [ -e "$T" ]; }; then
		echo "FAIL leak check: processes [$(echo $left)] or namespace $NS or $T remain"
		[ -n "$left" ] && kill $left 2>/dev/null
		rc=1
	else
		echo "ok   leak check: no process, namespace or file of this run remains"
	fi
	exit $rc
}
trap cleanup EXIT

pass() { PASSES=$((PASSES + 1)); echo "ok   $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL $*"; }
# check NAME COMMAND...: pass when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

gcc -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -I"$ROOT/preload" \
	-o "$T/fake_broker" "$HERE/fake_broker.c" || exit 1
gcc -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -pthread \
	-o "$T/stress" "$HERE/stress.c" || exit 1

if ip netns add "$NS" 2>/dev/null; then
	in_ns() { ip netns exec "$NS" "$@"; }
	# ns_spawn CMD...: start CMD in the namespace in the background and
	# remember its own PID (exec: no shell in between to outlive).
	ns_spawn() { (exec ip netns exec "$NS" "$@") & PIDS+=($!); }
else
	echo "note: cannot create a network namespace; running in this one"
	in_ns() { "$@"; }
	ns_spawn() { (exec "$@") & PIDS+=($!); }
fi

# Ports below the ephemeral range, all free on 127.0.0.1 and ::1.
ports_free() {
	"$PY" - "$@" <<'PYEOF'
import socket, sys
for p in map(int, sys.argv[1:]):
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, typ)
            try:
                s.bind((host, p))
            except OSError:
                sys.exit(1)
            finally:
                s.close()
PYEOF
}
for i in $(seq 20); do
	P=$((10000 + RANDOM % 20000))
	Q=$((P + 10))
	ports_free "$P" $((P + 1)) $((P + 2)) "$Q" && break
done
BROKER=$T/broker.sock
BLOG=$T/broker.log
: >"$BLOG"
"$T/fake_broker" "$BROKER" "$P" "$T/http.sock" "$BLOG" &
PIDS+=($!)
mkdir -p "$T/www"
echo "hello graft" >"$T/www/hello.txt"

graft_env() {
	env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" "$@"
}

# wait_for CMD...: retry for up to 5 s.
wait_for() {
	local i
	for i in $(seq 50); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
for i in $(seq 50); do [ -S "$BROKER" ] && break; sleep 0.1; done

fetch() { curl -s --max-time 5 "$@"; }
got_hello() { [ "$(fetch "$@")" = "hello graft" ]; }

# --- ingress ---------------------------------------------------------------

# IPv4 app, IPv4 endpoint.
ns_spawn env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" \
	GRAFT_INGRESS_CONVERT="0.0.0.0:8000=ep-test" \
	"$PY" -m http.server 8000 --bind 0.0.0.0 --directory "$T/www" \
	>"$T/srv4.log" 2>&1
check "ingress: http.server 0.0.0.0:8000 grafted onto ep-test serves host curl" \
	wait_for got_hello "http://127.0.0.1:$P/hello.txt"
check "ingress: SO_REUSEADDR set before bind reaches the broker" \
	grep -q "ep=ep-test family=2 type=1 port=8000 opts=1/2 status=0" "$BLOG"

# Dual-stack IPv6 app on an IPv4 endpoint, by the IPv4 mapping for
# 0.0.0.0: peers appear as IPv4-mapped addresses.
ns_spawn env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" \
	GRAFT_INGRESS_CONVERT="0.0.0.0:8001=ep-test2" \
	"$PY" -m http.server 8001 --bind :: --directory "$T/www" \
	>"$T/srv46.log" 2>&1
check "ingress: IPv6 app grafted onto IPv4 endpoint serves host curl" \
	wait_for got_hello "http://127.0.0.1:$((P + 1))/hello.txt"
check "ingress: IPv6 app sees its IPv4 peer as ::ffff:127.0.0.1" \
	wait_for grep -q '^::ffff:127.0.0.1 ' "$T/srv46.log"

# IPv6 app, IPv6 endpoint, mapping written without brackets.
ns_spawn env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" \
	GRAFT_INGRESS_CONVERT="::1:8002=ep-test6" \
	"$PY" -m http.server 8002 --bind ::1 --directory "$T/www" \
	>"$T/srv6.log" 2>&1
check "ingress: IPv6 app grafted onto IPv6 endpoint serves host curl" \
	wait_for got_hello -g "http://[::1]:$((P + 2))/hello.txt"

# IPv4 app on a unix endpoint, port range mapping.
ns_spawn env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" \
	GRAFT_INGRESS_CONVERT="0.0.0.0:8003-8005=ep-unix" \
	"$PY" -u -m http.server 8003 --bind 0.0.0.0 --directory "$T/www" \
	>"$T/srvu.log" 2>&1
check "ingress: http.server grafted onto a unix endpoint serves curl --unix-socket" \
	wait_for got_hello --unix-socket "$T/http.sock" "http://graft/hello.txt"
check "ingress: getsockname() on the unix graft gives the bound address" \
	grep -q "Serving HTTP on 0.0.0.0 port 8003" "$T/srvu.log"
check "ingress: accept() on the unix graft gives a fake 0.0.0.0 peer" \
	wait_for grep -q '^0.0.0.0 - - .*"GET /hello.txt' "$T/srvu.log"

# What an INET application may still do on a socket now on a unix endpoint.
out=$(in_ns env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" \
	GRAFT_INGRESS_CONVERT="127.0.0.1:8006=ep-unix" "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 8006))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print(s.getsockname(), s.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN))' 2>&1)
check "unix graft: TCP options accepted, SO_DOMAIN and getsockname() say AF_INET" \
	[ "$out" = "('127.0.0.1', 8006) 2" ]

# UDP: IPv6 app on an IPv4 endpoint, recvfrom()/sendto() translate.
ns_spawn env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" \
	GRAFT_INGRESS_CONVERT="[::]:8004=ep-test2" "$PY" -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 8004))
while True:
    data, addr = s.recvfrom(100)
    print(addr[0], flush=True)
    s.sendto(b"pong:" + data, addr)' >"$T/udp.log" 2>&1
out=$("$PY" -c '
import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(0.2)
for _ in range(25):
    c.sendto(b"ping", ("127.0.0.1", int(sys.argv[1])))
    try:
        print(c.recv(100).decode()); break
    except socket.timeout:
        pass' $((P + 1)))
check "udp: IPv6 app on an IPv4 endpoint answers through sendto()" \
	[ "$out" = "pong:ping" ]
check "udp: recvfrom() gives the IPv6 app ::ffff:127.0.0.1" \
	grep -qx "::ffff:127.0.0.1" "$T/udp.log"

# Errors: unknown endpoint, EADDRINUSE, unreachable broker.
bind_probe() { # bind_probe MAPPING ADDR PORT -> prints errno (0 = bound)
	in_ns env LD_PRELOAD="$LIB" GRAFT_SOCKET="${SOCK:-$BROKER}" \
		GRAFT_INGRESS_CONVERT="$1" "$PY" -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
    print(0)
except OSError as e:
    print(e.errno)' "$2" "$3"
}
out=$(bind_probe "0.0.0.0:9000=ep-nope" 0.0.0.0 9000 2>"$T/err")
check "errors: unknown endpoint fails bind() with EADDRNOTAVAIL" [ "$out" = 99 ]
check "errors: unknown endpoint prints one line naming endpoint and reason" \
	[ "$(cat "$T/err")" = 'libgraft: cannot graft 0.0.0.0:9000 onto endpoint ep-nope: no endpoint "ep-nope" in this network namespace' ]
out=$(bind_probe "0.0.0.0:8000=ep-test" 0.0.0.0 8000 2>"$T/err")
check "errors: endpoint address in use gives EADDRINUSE" [ "$out" = 98 ]
check "errors: EADDRINUSE is reported on stderr" \
	grep -q "cannot graft 0.0.0.0:8000 onto endpoint ep-test: .*in use" "$T/err"
out=$(SOCK=$T/nothing.sock bind_probe "0.0.0.0:9000=ep-test" 0.0.0.0 9000 2>"$T/err")
check "errors: unreachable broker gives EADDRNOTAVAIL" [ "$out" = 99 ]
check "errors: unreachable broker is reported on stderr" \
	grep -q "^libgraft: cannot graft 0.0.0.0:9000 onto endpoint ep-test: cannot reach the graft broker at $T/nothing.sock" "$T/err"
out=$(bind_probe "0.0.0.0:9000=ep-test" 127.0.0.1 9000 2>"$T/err")
ok=0; [ "$out" = 0 ] && [ ! -s "$T/err" ] && ok=1
check "ingress: an unmatched bind() passes through silently" [ $ok = 1 ]

# Kernel backend without the module: a clean failure, same errno.
out=$(GRAFT_BACKEND=kernel bind_probe "0.0.0.0:9000=ep-test" 0.0.0.0 9000 2>"$T/err")
ok=0
[ "$out" = 99 ] && [ "$(wc -l <"$T/err")" = 1 ] &&
	grep -q "^libgraft: cannot graft 0.0.0.0:9000 onto endpoint ep-test: cannot create an AF_GRAFT socket" "$T/err" &&
	ok=1
check "kernel backend: no af_graft module gives EADDRNOTAVAIL and one line" [ $ok = 1 ]

# Bad mapping entries: one line each, the rest still used.
out=$(graft_env GRAFT_INGRESS_CONVERT="bogus,0.0.0.0:1=ok" \
	GRAFT_EGRESS_CONVERT="10.0.0.0/99=x" "$PY" -c 'pass' 2>&1)
ok=0
[ "$(echo "$out" | wc -l)" = 2 ] &&
	echo "$out" | grep -q '^libgraft: ignoring bad GRAFT_INGRESS_CONVERT entry "bogus"' &&
	echo "$out" | grep -q '^libgraft: ignoring bad GRAFT_EGRESS_CONVERT entry "10.0.0.0/99=x"' &&
	ok=1
check "env: bad entries give one line each on stderr" [ $ok = 1 ]

# --- egress ----------------------------------------------------------------

"$PY" -m http.server "$Q" --bind 127.0.0.1 --directory "$T/www" \
	>"$T/host.log" 2>&1 &
PIDS+=($!)
wait_for got_hello "http://127.0.0.1:$Q/hello.txt"
: >"$T/host.log"

out=$(in_ns env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" \
	GRAFT_EGRESS_CONVERT="0.0.0.0/0=ep-out" \
	curl -sS --max-time 5 "http://127.0.0.1:$Q/hello.txt" 2>"$T/err")
check "egress: curl in the namespace reaches the host through ep-out" \
	[ "$out" = "hello graft" ]
check "egress: the host sees the ep-out address 127.0.0.2" \
	wait_for grep -q '^127.0.0.2 ' "$T/host.log"
check "egress: nothing printed without GRAFT_VERBOSE" [ ! -s "$T/err" ]

before=$(wc -l <"$BLOG")
: >"$T/host.log"
out=$(graft_env GRAFT_EGRESS_CONVERT="10.0.0.0/8=ep-out 127.0.0.2/32=ep-out" \
	curl -sS --max-time 5 "http://127.0.0.1:$Q/hello.txt" 2>"$T/err")
ok=0
[ "$out" = "hello graft" ] && [ "$(wc -l <"$BLOG")" = "$before" ] &&
	wait_for grep -q '^127.0.0.1 ' "$T/host.log" && [ ! -s "$T/err" ] && ok=1
check "egress: an unmatched connect() is untouched" [ $ok = 1 ]

out=$(in_ns env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" \
	GRAFT_EGRESS_CONVERT="10.0.0.0/8=ep-out" \
	curl -sS --max-time 5 "http://127.0.0.1:$Q/hello.txt" 2>/dev/null)
check "egress: unmatched in the namespace stays in the namespace (fails)" \
	[ "$out" != "hello graft" ]

in_ns env LD_PRELOAD="$LIB" GRAFT_SOCKET="$BROKER" GRAFT_VERBOSE=1 \
	GRAFT_EGRESS_CONVERT="0.0.0.0/0=ep-out" \
	curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$Q/hello.txt" 2>"$T/err"
check "verbose: trace names the egress mapping" \
	grep -qx "libgraft.so: use ep ep-out for 0.0.0.0/0 (egress)" "$T/err"
check "verbose: trace names the grafted connect()" \
	grep -qx "libgraft.so: connect(): use ep-out for 127.0.0.1:$Q" "$T/err"

# --- scale and threads -----------------------------------------------------

ulimit -n 20000 2>/dev/null
out=$(graft_env GRAFT_EGRESS_CONVERT="0.0.0.0/0=ep-out" \
	timeout 120 "$T/stress" many 1000 2>&1)
check "scale: 1000 grafted connections at once, fds > 1024, no leak" \
	[ $? = 0 ]
echo "     $out"
out=$(graft_env GRAFT_EGRESS_CONVERT="0.0.0.0/0=ep-out" \
	timeout 120 "$T/stress" threads 16 3 2>&1)
check "threads: 16 threads graft and close for 3 s with forks, no leak" \
	[ $? = 0 ]
echo "     $out"

check "version: the library carries its version tag" \
	grep -aq "@(#)libgraft 0.1.0" "$LIB"

echo "preload e2e: $PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
