#!/usr/bin/env bash
# End-to-end suite: real applications (iperf3, curl, python3) inside network
# namespaces, grafted onto the host's stack. The same suite runs against both
# backends:  tests/e2e.sh --backend broker   (default; starts its own broker)
#            tests/e2e.sh --backend kernel   (af_graft.ko loaded; in the VM)
#
#   +------------------------+            +--------------------------------+
#   | netns $C1 (lo only)    |            | host netns (this shell's)      |
#   |  endpoints ep-test,    |  grafted   |  127.0.0.1 / ::1 servers and   |
#   |  ep-out, ep6-*, ...    | ---------> |  clients: iperf3, curl,        |
#   |  apps: iperf3 -s, curl |  sockets   |  python3 http.server           |
#   +------------------------+            +--------------------------------+
#   | netns $C2 (lo only)    |  no endpoints of its own: must be refused
#   +------------------------+
#
# Traffic goes only to loopback addresses. Everything the suite creates
# (namespaces, broker, servers, files) is removed by the EXIT trap.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BACKEND=broker
QUICK=0
while (($#)); do
	case $1 in
	--backend) BACKEND=$2; shift 2 ;;
	--backend=*) BACKEND=${1#*=}; shift ;;
	--quick) QUICK=1; shift ;;  # skip the 10 s churn
	*) echo "usage: $0 [--backend broker|kernel] [--quick]" >&2; exit 2 ;;
	esac
done

GRAFT=${GRAFT:-$ROOT/.tools/bin/graft}
TOOLS=$ROOT/tests/tools
TMP=$(mktemp -d /tmp/graft-e2e.XXXXXX)
chmod 755 "$TMP" # unprivileged clients must reach the broker socket to be refused by it
C1=gc1-$$
C2=gc2-$$
PIDS=()
BROKER_PID=
export GRAFT_SOCKET=$TMP/graft.sock
export GRAFT_GC_MS=500
export GRAFT_MAX_CLIENTS=64
g() { "$GRAFT" --backend "$BACKEND" "$@"; }

npass=0
nfail=0
pass() { npass=$((npass + 1)); printf '  ok    %s\n' "$*"; }
fail() { nfail=$((nfail + 1)); printf '  FAIL  %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$C1" 2>/dev/null
	ip netns del "$C2" 2>/dev/null
	if [[ -n $BROKER_PID ]]; then
		kill "$BROKER_PID" 2>/dev/null
		wait "$BROKER_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

bg() { "$@" & PIDS+=($!); }

# A free TCP+UDP port on the host.
free_port() {
	python3 -c 'import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); break
    except OSError: pass
print(p)'
}

# wait_listen [-n NS] tcp|udp PORT: up to 10 s for a listener on PORT.
wait_listen() {
	local pre=()
	if [[ $1 == -n ]]; then pre=(ip netns exec "$2"); shift 2; fi
	local flag=-Hltn
	[[ $1 == udp ]] && flag=-Hlun
	for _ in $(seq 100); do
		[[ -n $("${pre[@]}" ss "$flag" "sport = :$2" 2>/dev/null) ]] && return 0
		sleep 0.1
	done
	return 1
}

# expect_fail "description" EXPECTED_RC PATTERN -- command...: non-zero exit, one line matching PATTERN.
expect_fail() {
	local what=$1 rc_want=$2 pattern=$3
	shift 4
	local out rc
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	local lines
	lines=$(printf '%s' "$out" | grep -c '')
	if [[ $rc -eq $rc_want && $lines -eq 1 && $out =~ $pattern ]]; then
		pass "$what -> exit $rc: $out"
	else
		fail "$what: wanted exit $rc_want and one line matching /$pattern/, got exit $rc: $out"
	fi
}

# ---------------------------------------------------------------------------
section "setup ($BACKEND backend)"
ip netns add "$C1" && ip -n "$C1" link set lo up
ip netns add "$C2" && ip -n "$C2" link set lo up
if [[ $BACKEND == broker ]]; then
	"$GRAFT" daemon --socket "$GRAFT_SOCKET" 2>"$TMP/broker.log" &
	BROKER_PID=$!
	for _ in $(seq 100); do [[ -S $GRAFT_SOCKET ]] && break; sleep 0.1; done
	[[ -S $GRAFT_SOCKET ]] && pass "broker listening on $GRAFT_SOCKET" || {
		fail "broker did not start: $(cat "$TMP/broker.log")"
		exit 1
	}
fi
mkdir -p "$TMP/www"
TOKEN=graft-$RANDOM-$RANDOM
echo "$TOKEN" >"$TMP/www/token.txt"

P_TEST=$(free_port)
P_WEB=$(free_port)
g -n "$C1" ep add ep-test type ipv4 addr 127.0.0.1 port "$P_TEST" &&
	g -n "$C1" ep add ep-out type ipv4 addr 127.0.0.1 port dynamic &&
	pass "endpoints added in $C1" || fail "adding endpoints in $C1"

section "ep show"
out=$(g -n "$C1" ep show)
want=$(printf 'ep-out type ipv4 addr 127.0.0.1 port dynamic\nep-test type ipv4 addr 127.0.0.1 port %s' "$P_TEST")
[[ $out == "$want" ]] && pass "ep show prints the seed's format" || fail "ep show printed: $out"
out=$(g -n "$C1" -j ep show ep-test)
python3 -c 'import json,sys; e=json.load(sys.stdin); assert e==[{"name":"ep-test","type":"ipv4","addr":"127.0.0.1","port":int(sys.argv[1])}], e' "$P_TEST" <<<"$out" &&
	pass "ep show -j prints JSON" || fail "ep show -j printed: $out"
[[ -z $(g -n "$C2" ep show) ]] && pass "$C2 has no endpoints" || fail "$C2 shows endpoints"
# NETNS as a path and as the PID of a process inside it.
[[ $(g -n "/run/netns/$C1" ep show) == "$want" ]] && pass "-n /run/netns/$C1 (a path) names the same namespace" ||
	fail "-n with a path"
ip netns exec "$C1" sleep 30 &
SLEEPER=$!
PIDS+=($SLEEPER)
sleep 0.2
[[ $(g -n "$SLEEPER" ep show) == "$want" ]] && pass "-n $SLEEPER (a PID inside $C1) names the same namespace" ||
	fail "-n with a PID"
kill "$SLEEPER" 2>/dev/null

# ---------------------------------------------------------------------------
section "the seed's ingress example: iperf3 -s grafted, host iperf3 -c"
bg "$GRAFT" --backend "$BACKEND" -n "$C1" run -i 0.0.0.0:5201=ep-test -- iperf3 -s -1 >"$TMP/iperf-s.log" 2>&1
if wait_listen tcp "$P_TEST"; then
	pass "iperf3 in $C1 listens on host 127.0.0.1:$P_TEST"
	if iperf3 -c 127.0.0.1 -p "$P_TEST" -t 1 -J >"$TMP/iperf-c.json" 2>&1; then
		bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bytes"])' "$TMP/iperf-c.json")
		((bytes > 0)) && pass "host iperf3 -c transferred $bytes bytes" || fail "iperf3 moved no data"
	else
		fail "iperf3 -c failed: $(tail -3 "$TMP/iperf-c.json")"
	fi
else
	fail "grafted iperf3 never listened on $P_TEST: $(cat "$TMP/iperf-s.log")"
fi
[[ -z $(ip netns exec "$C1" ss -Hltn "sport = :5201") ]] && pass "nothing listens on 5201 inside $C1" ||
	fail "iperf3 listened inside $C1"

# ---------------------------------------------------------------------------
section "the seed's egress example: curl grafted, python3 http.server on the host"
bg python3 -m http.server "$P_WEB" --bind 127.0.0.1 --directory "$TMP/www" >/dev/null 2>&1
wait_listen tcp "$P_WEB" || fail "http.server did not start"
out=$(timeout 20 "$GRAFT" --backend "$BACKEND" -n "$C1" run -e 0.0.0.0/0=ep-out -- curl -s --max-time 5 "http://127.0.0.1:$P_WEB/token.txt")
[[ $out == "$TOKEN" ]] && pass "grafted curl in $C1 fetched the host's page" || fail "grafted curl got: $out"
out=$(ip netns exec "$C1" curl -s --max-time 2 "http://127.0.0.1:$P_WEB/token.txt")
[[ $out != "$TOKEN" ]] && pass "the same curl without graft cannot reach it" || fail "ungrafted curl reached the host"
out=$("$GRAFT" --backend "$BACKEND" -n "$C1" run -v -e 0.0.0.0/0=ep-out -- curl -s --max-time 5 "http://127.0.0.1:$P_WEB/token.txt" 2>&1 >/dev/null)
[[ $out == *"GRAFT_EGRESS_CONVERT=0.0.0.0/0=ep-out"* && $out == *"ep-out"*"127.0.0.1:$P_WEB"* ]] &&
	pass "-v prints the environment and the conversion trace" || fail "-v printed: $out"

# ---------------------------------------------------------------------------
section "IPv6 (::1) both ways"
P6_IN=$(free_port)
P6_WEB=$(free_port)
g -n "$C1" ep add ep6-in type ipv6 addr ::1 port "$P6_IN" &&
	g -n "$C1" ep add ep6-out type ipv6 addr ::1 port dynamic || fail "adding IPv6 endpoints"
bg "$GRAFT" --backend "$BACKEND" -n "$C1" run -i '[::]:8000=ep6-in' -- python3 -m http.server 8000 --bind :: --directory "$TMP/www" >/dev/null 2>&1
if wait_listen tcp "$P6_IN"; then
	out=$(curl -s --max-time 5 -g "http://[::1]:$P6_IN/token.txt")
	[[ $out == "$TOKEN" ]] && pass "host curl [::1]:$P6_IN reached the grafted IPv6 server" || fail "IPv6 ingress got: $out"
else
	fail "grafted IPv6 server never listened"
fi
bg python3 -m http.server "$P6_WEB" --bind ::1 --directory "$TMP/www" >/dev/null 2>&1
wait_listen tcp "$P6_WEB"
out=$("$GRAFT" --backend "$BACKEND" -n "$C1" run -e ::/0=ep6-out -- curl -s --max-time 5 -g "http://[::1]:$P6_WEB/token.txt")
[[ $out == "$TOKEN" ]] && pass "grafted curl reached the host's [::1]:$P6_WEB" || fail "IPv6 egress got: $out"

# ---------------------------------------------------------------------------
section "ingress port ranges and several mappings"
PR1=$(free_port)
PR2=$(free_port)
PX=$(free_port)
g -n "$C1" ep add ep-range type ipv4 addr 127.0.0.1 port dynamic &&
	g -n "$C1" ep add ep-x type ipv4 addr 127.0.0.1 port "$PX" || fail "adding range endpoints"
lo=$((PR1 < PR2 ? PR1 : PR2))
hi=$((PR1 < PR2 ? PR2 : PR1))
SECONDS_UP=30 bg "$GRAFT" --backend "$BACKEND" -n "$C1" run -i "0.0.0.0:$lo-$hi=ep-range" -i 0.0.0.0:7777=ep-x \
	-- python3 "$TOOLS/listen_many.py" 0.0.0.0 "$PR1" "$PR2" 7777 7778 >"$TMP/many.log" 2>&1
if wait_listen tcp "$PR1" && wait_listen tcp "$PR2" && wait_listen tcp "$PX"; then
	a=$(python3 "$TOOLS/client.py" tcp 127.0.0.1 "$PR1")
	b=$(python3 "$TOOLS/client.py" tcp 127.0.0.1 "$PR2")
	c=$(python3 "$TOOLS/client.py" tcp 127.0.0.1 "$PX")
	[[ $a == "port $PR1" && $b == "port $PR2" ]] && pass "ports $PR1 and $PR2 in range $lo-$hi grafted onto a dynamic endpoint keep their port" ||
		fail "range mapping: got '$a' '$b'"
	[[ $c == "port 7777" ]] && pass "second -i mapping: 7777 grafted onto ep-x ($PX)" || fail "second mapping: got '$c'"
	[[ -n $(ip netns exec "$C1" ss -Hltn "sport = :7778") ]] && pass "unmapped port 7778 stays inside $C1" ||
		fail "unmapped port 7778 not inside $C1"
else
	fail "range listeners did not appear on the host: $(cat "$TMP/many.log")"
fi

section "egress longest-prefix choice"
P_PEER=$(free_port)
g -n "$C1" ep add ep-lo2 type ipv4 addr 127.0.0.2 port dynamic &&
	g -n "$C1" ep add ep-lo3 type ipv4 addr 127.0.0.3 port dynamic || fail "adding egress endpoints"
bg python3 "$TOOLS/peer_server.py" tcp 0.0.0.0 "$P_PEER" 60 >/dev/null
wait_listen tcp "$P_PEER"
run_peer() { "$GRAFT" --backend "$BACKEND" -n "$C1" run "$@" -- python3 "$TOOLS/client.py" tcp 127.0.0.1 "$P_PEER"; }
out=$(run_peer -e 0.0.0.0/0=ep-out -e 127.0.0.0/8=ep-lo2)
[[ $out == "peer 127.0.0.2 "* ]] && pass "127.0.0.0/8 beats 0.0.0.0/0 (source $out)" || fail "LPM /8: $out"
out=$(run_peer -e 127.0.0.0/8=ep-lo2 -e 127.0.0.1/32=ep-lo3 -e 0.0.0.0/0=ep-out)
[[ $out == "peer 127.0.0.3 "* ]] && pass "127.0.0.1/32 beats /8 and /0 whatever the order (source $out)" || fail "LPM /32: $out"
out=$(run_peer -e 10.0.0.0/8=ep-lo2 -e ::/0=ep6-out)
[[ $out != "peer "* ]] && pass "a destination no mapping covers is left alone (not grafted)" || fail "unmapped destination was grafted: $out"

section "client-socket stock (egress on a port-dynamic endpoint)"
g -n "$C1" ep add ep-pool type ipv4 addr 127.0.0.2 port dynamic || fail "adding ep-pool"
"$GRAFT" --backend "$BACKEND" -n "$C1" run -e 127.0.0.0/8=ep-pool -- python3 "$TOOLS/pool_check.py" 127.0.0.1 "$P_PEER" "$TMP/pool-go" >"$TMP/pool.out" 2>&1 &
POOLPID=$!
for _ in $(seq 100); do grep -q "fork ok" "$TMP/pool.out" && break; sleep 0.1; done
g -n "$C1" ep del ep-pool && g -n "$C1" ep add ep-pool type ipv4 addr 127.0.0.4 port dynamic
touch "$TMP/pool-go"
wait "$POOLPID"
out=$(cat "$TMP/pool.out")
[[ $out == *"first 127.0.0.2"* ]] && pass "grafted connect() through ep-pool (127.0.0.2)" || fail "pool: $out"
[[ $out == *"fork ok 40"* ]] && pass "parent and child after fork() got 40 distinct sockets" || fail "pool across fork: $out"
[[ $out == *"after 127.0.0.4"* ]] && pass "a redefined endpoint is used once the stock expires (127.0.0.4)" ||
	fail "pool after redefining the endpoint: $out"
out=$(GRAFT_POOL=0 "$GRAFT" --backend "$BACKEND" -n "$C1" run -e 127.0.0.0/8=ep-lo3 -- python3 "$TOOLS/client.py" tcp 127.0.0.1 "$P_PEER")
[[ $out == "peer 127.0.0.3 "* ]] && pass "GRAFT_POOL=0 grafts one socket per connect ($out)" || fail "GRAFT_POOL=0: $out"

# ---------------------------------------------------------------------------
section "UDP both ways"
P_UDP_IN=$(free_port)
P_UDP_PEER=$(free_port)
g -n "$C1" ep add ep-udp type ipv4 addr 127.0.0.1 port "$P_UDP_IN" || fail "adding ep-udp"
bg "$GRAFT" --backend "$BACKEND" -n "$C1" run -i 0.0.0.0:9000=ep-udp -- python3 "$TOOLS/peer_server.py" udp 0.0.0.0 9000 60 >/dev/null 2>&1
if wait_listen udp "$P_UDP_IN"; then
	out=$(python3 "$TOOLS/client.py" udp 127.0.0.1 "$P_UDP_IN" hello-udp)
	[[ $out == "peer 127.0.0.1 "*" hello-udp" ]] && pass "host UDP client reached the grafted UDP server ($out)" || fail "UDP ingress: $out"
else
	fail "grafted UDP server never bound $P_UDP_IN"
fi
bg python3 "$TOOLS/peer_server.py" udp 127.0.0.1 "$P_UDP_PEER" 60 >/dev/null
wait_listen udp "$P_UDP_PEER"
out=$("$GRAFT" --backend "$BACKEND" -n "$C1" run -e 127.0.0.0/8=ep-lo2 -- python3 "$TOOLS/client.py" udp 127.0.0.1 "$P_UDP_PEER" hi)
[[ $out == "peer 127.0.0.2 "*" hi" ]] && pass "grafted UDP sendto() left through ep-lo2 ($out)" || fail "UDP egress: $out"

# ---------------------------------------------------------------------------
section "a Unix-path endpoint"
g -n "$C1" ep add ep-unix type unix path "$TMP/app.sock" || fail "adding ep-unix"
bg "$GRAFT" --backend "$BACKEND" -n "$C1" run -i 0.0.0.0:8080=ep-unix -- python3 -m http.server 8080 --directory "$TMP/www" >/dev/null 2>&1
for _ in $(seq 100); do [[ -S $TMP/app.sock ]] && break; sleep 0.1; done
out=$(curl -s --max-time 5 --unix-socket "$TMP/app.sock" http://graft/token.txt)
[[ $out == "$TOKEN" ]] && pass "host curl --unix-socket reached python3 http.server in $C1" || fail "unix endpoint: $out"

# ---------------------------------------------------------------------------
section "an endpoint whose target is another namespace (netns $C2)"
P_T=$(free_port)
g -n "$C1" ep add ep-far type ipv4 addr 127.0.0.1 port "$P_T" netns "$C2" || fail "adding ep-far"
[[ $(g -n "$C1" ep show ep-far) == "ep-far type ipv4 addr 127.0.0.1 port $P_T netns "* ]] &&
	pass "ep show names the target namespace" || fail "ep-far shows as: $(g -n "$C1" ep show ep-far)"
bg "$GRAFT" --backend "$BACKEND" -n "$C1" run -i 0.0.0.0:8081=ep-far -- python3 -m http.server 8081 --bind 0.0.0.0 --directory "$TMP/www" >/dev/null 2>&1
if wait_listen -n "$C2" tcp "$P_T"; then
	out=$(ip netns exec "$C2" curl -s --max-time 5 "http://127.0.0.1:$P_T/token.txt")
	[[ $out == "$TOKEN" ]] && pass "a server in $C1 listens in $C2's stack; $C2 reaches it" || fail "target netns: $out"
	[[ -z $(ss -Hltn "sport = :$P_T") ]] && pass "and not in the host's" || fail "ep-far listened on the host"
else
	fail "nothing listened on $P_T in $C2"
fi

# ---------------------------------------------------------------------------
section "library: a program using only mod.ts"
P_EX=$(free_port)
echo "served through mod.ts" >"$TMP/www/index.html"
out=$(timeout 60 "$ROOT/.tools/bin/deno" run --allow-all --quiet "$ROOT/examples/graft_server.ts" "$C1" "$P_EX" "$TMP/www" 2>&1)
[[ $out == "ex-web: served through mod.ts" ]] && pass "examples/graft_server.ts grafted a server from $C1 and fetched it" ||
	fail "mod.ts example: $out"
[[ -z $(g -n "$C1" ep show ex-web 2>/dev/null) ]] && pass "the example removed its endpoint" || fail "ex-web left behind"

# ---------------------------------------------------------------------------
section "isolation: $C2 cannot use $C1's endpoints"
expect_fail "graft -n $C2 run -i ...=ep-test" 1 'ep-test' -- "$GRAFT" --backend "$BACKEND" -n "$C2" run -i 0.0.0.0:5201=ep-test -- true
LIB=${GRAFT_PRELOAD:-$ROOT/preload/build/libgraft.so}
out=$(ip netns exec "$C2" env LD_PRELOAD="$LIB" GRAFT_BACKEND="$BACKEND" GRAFT_INGRESS_CONVERT=0.0.0.0:5201=ep-test \
	python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0",5201)); print("bound")' 2>&1)
[[ $out != *bound && $out == *ep-test* && $out == *"Cannot assign requested address"* ]] &&
	pass "preloaded bind() in $C2 fails with EADDRNOTAVAIL, naming ep-test" || fail "bind in $C2: $out"
out=$(ip netns exec "$C2" env LD_PRELOAD="$LIB" GRAFT_BACKEND="$BACKEND" GRAFT_EGRESS_CONVERT=0.0.0.0/0=ep-out \
	curl -s --max-time 5 "http://127.0.0.1:$P_WEB/token.txt" 2>&1)
[[ $out != *"$TOKEN"* && $out == *ep-out* ]] && pass "preloaded curl in $C2 fails, naming ep-out" || fail "connect in $C2: $out"
g -n "$C2" ep add ep-test type ipv4 addr 127.0.0.5 port dynamic || fail "adding $C2's own ep-test"
[[ $(g -n "$C1" ep show ep-test) == *"port $P_TEST" && $(g -n "$C2" ep show ep-test) == *127.0.0.5* ]] &&
	pass "the same name in two namespaces means two endpoints" || fail "endpoints leaked across namespaces"
g -n "$C2" ep del ep-test

# ---------------------------------------------------------------------------
section "privilege"
if id nobody >/dev/null 2>&1; then
	expect_fail "non-root ep add" 1 'root|permission|Operation not permitted' -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$GRAFT" --backend "$BACKEND" ep add evil type ipv4 addr 127.0.0.1 port 1
	expect_fail "non-root ep del" 1 'root|permission|Operation not permitted' -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$GRAFT" --backend "$BACKEND" ep del ep-out
	[[ $(g -n "$C1" ep show ep-out) == ep-out* ]] && pass "ep-out survived the attempts" || fail "non-root changed endpoints"
	expect_fail "non-root run inside another namespace" 1 'setns: Operation not permitted' -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$GRAFT" --backend "$BACKEND" -n "$C1" run -- true
fi

# ---------------------------------------------------------------------------
section "bad input: one line, non-zero exit, nothing created"
before=$(g -n "$C1" ep show)
netns_before=$(ip netns list | sort)
expect_fail "-i without a port" 2 'bad ingress mapping "1.2.3.4=ep"' -- "$GRAFT" -n "$C1" run -i 1.2.3.4=ep -- true
expect_fail "-e with /33" 2 'prefix length "33"' -- "$GRAFT" -n "$C1" run -e 10.0.0.0/33=x -- true
expect_fail "-i port range backwards" 2 'empty' -- "$GRAFT" run -i 0.0.0.0:90-80=ep -- true
expect_fail "16-byte endpoint name" 2 'is 16 bytes; the limit is 15' -- "$GRAFT" --backend "$BACKEND" -n "$C1" ep add 0123456789abcdef type ipv4 addr 127.0.0.1 port 1
expect_fail "unknown type" 2 'unknown type "ipx"' -- "$GRAFT" --backend "$BACKEND" -n "$C1" ep add x type ipx addr 127.0.0.1 port 1
expect_fail "port 70000" 2 'bad port "70000"' -- "$GRAFT" --backend "$BACKEND" -n "$C1" ep add x type ipv4 addr 127.0.0.1 port 70000
expect_fail "bad address" 2 'not an ipv4 address' -- "$GRAFT" --backend "$BACKEND" -n "$C1" ep add x type ipv4 addr 300.1.1.1 port 1
expect_fail "ipv6 address for ipv4" 2 'not an ipv4 address' -- "$GRAFT" --backend "$BACKEND" -n "$C1" ep add x type ipv4 addr ::1 port 1
expect_fail "unknown namespace" 1 'network namespace "nosuch-ns-'$$'" not found' -- "$GRAFT" --backend "$BACKEND" -n "nosuch-ns-$$" ep show
expect_fail "unknown target namespace" 1 'not found' -- "$GRAFT" --backend "$BACKEND" -n "$C1" ep add x type ipv4 addr 127.0.0.1 port 1 netns "nosuch-ns-$$"
expect_fail "duplicate endpoint" 1 'already exists' -- "$GRAFT" --backend "$BACKEND" -n "$C1" ep add ep-out type ipv4 addr 127.0.0.1 port dynamic
expect_fail "deleting a missing endpoint" 1 'no endpoint "nope"' -- "$GRAFT" --backend "$BACKEND" -n "$C1" ep del nope
expect_fail "unknown command" 2 'unknown command' -- "$GRAFT" frobnicate
expect_fail "run without a command" 2 'no command' -- "$GRAFT" run -i 0.0.0.0:1=ep --
expect_fail "a command that does not exist" 1 'command not found' -- "$GRAFT" --backend "$BACKEND" -n "$C1" run -- /nonexistent/prog
if [[ $BACKEND == broker ]]; then
	expect_fail "broker not running" 1 'broker is not running' -- env GRAFT_SOCKET="$TMP/none.sock" "$GRAFT" --backend broker ep show
	expect_fail "kernel backend asked for without the module" 1 'kernel backend unavailable' -- "$GRAFT" --backend kernel ep show
	expect_fail "a second broker on the same socket" 1 'already listening' -- "$GRAFT" daemon --socket "$GRAFT_SOCKET"
	[[ -S $GRAFT_SOCKET ]] && pass "the running broker's socket is untouched" || fail "second daemon removed the socket"
fi
[[ $(g -n "$C1" ep show) == "$before" ]] && pass "endpoints unchanged after the bad input" || fail "bad input changed endpoints"
[[ $(ip netns list | sort) == "$netns_before" ]] && pass "no namespace created or removed" || fail "namespaces changed"

# ---------------------------------------------------------------------------
if [[ $BACKEND == broker ]]; then
	section "broker robustness"
	python3 - "$GRAFT_SOCKET" <<'PY' && pass "garbage, truncated and abandoned requests get refusals or a close" || fail "broker misbehaved on garbage"
import socket, struct, sys
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.settimeout(5); s.connect(path); return s
# 1. random bytes: the broker closes the connection
s = conn(); s.send(b"\x00garbage\xff" * 10); assert s.recv(4096) == b""; s.close()
# 2. right magic, wrong version: a refusal (EPROTO=71) then close
s = conn(); s.send(struct.pack("<IHHII", 0x54465247, 99, 1, 16, 7))
r = s.recv(4096); assert struct.unpack_from("<i", r, 16)[0] == 71, r; s.close()
# 3. a socket request with a length that lies
s = conn(); s.send(struct.pack("<IHHII", 0x54465247, 1, 1, 48, 8) + b"\0" * 8); r = s.recv(4096)
assert struct.unpack_from("<i", r, 16)[0] in (22, 71), r; s.close()
# 4. connect and vanish mid-request, many times
for _ in range(50):
    s = conn(); s.send(struct.pack("<IHHII", 0x54465247, 1, 1, 48, 9)[:10]); s.close()
# 5. a well-formed request for an endpoint this namespace does not have
req = struct.pack("<IHHII", 0x54465247, 1, 1, 48, 10) + b"ep-test".ljust(16, b"\0") + struct.pack("<iiiHH", 2, 1, 0, 0, 0)
s = conn(); s.send(req); r = s.recv(4096)
assert struct.unpack_from("<i", r, 16)[0] == 99, r  # EADDRNOTAVAIL
assert b"ep-test" in r[156:], r
PY
	[[ $(g -n "$C1" ep show ep-out) == ep-out* ]] && pass "the broker still serves after the garbage" || fail "broker dead after garbage"
	# More idle clients than the broker admits (GRAFT_MAX_CLIENTS=64): the idlest are closed, work goes on.
	python3 - "$GRAFT_SOCKET" >"$TMP/hog.out" 2>&1 <<'PY' &
import socket, sys, time
held = []
for _ in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(4)
PY
	HOG=$!
	PIDS+=($HOG)
	for _ in $(seq 50); do grep -q holding "$TMP/hog.out" && break; sleep 0.1; done
	nclients=$(($(ls "/proc/$BROKER_PID/fd" | wc -l)))
	[[ $(g -n "$C1" ep show ep-out) == ep-out* ]] && pass "the broker serves while 300 idle clients hold connections" ||
		fail "broker stuck behind idle clients: $(cat "$TMP/hog.out")"
	((nclients < 150)) && pass "it kept its descriptors bounded ($nclients open)" || fail "broker holds $nclients descriptors"
	kill "$HOG" 2>/dev/null
fi

# ---------------------------------------------------------------------------
section "scale"
P_ECHO=$(free_port)
bg python3 "$TOOLS/echo_server.py" 127.0.0.1 "$P_ECHO" 120 >/dev/null
wait_listen tcp "$P_ECHO"
out=$(timeout 60 "$GRAFT" --backend "$BACKEND" -n "$C1" run -e 127.0.0.0/8=ep-out -- python3 "$TOOLS/many_conns.py" 127.0.0.1 "$P_ECHO" 1000 2>&1)
[[ $out == *"held 1000"*"echoed 1000"* ]] && pass "one grafted process held 1000 concurrent grafted connections" || fail "1000 connections: $out"
broker_fds() { ls "/proc/$BROKER_PID/fd" | wc -l; }
broker_rss() { awk '/VmRSS/ {print $2}' "/proc/$BROKER_PID/status"; }
if ((QUICK == 0)); then
	churn() { timeout 60 "$GRAFT" --backend "$BACKEND" -n "$C1" run -e 127.0.0.0/8=ep-out -- python3 "$TOOLS/churn.py" 127.0.0.1 "$P_ECHO" 16 "$1" 2>&1; }
	# Warm the broker up first: its JavaScript heap grows to a working size.
	churn 5 >/dev/null
	[[ -n $BROKER_PID ]] && fds0=$(broker_fds)
	out=$(churn 10)
	[[ $? -eq 0 && $out == rounds* ]] && pass "16 threads for 10 s, no fd leak in the app: $out" || fail "churn: $out"
	if [[ -n $BROKER_PID ]]; then
		sleep 0.5
		fds1=$(broker_fds)
		rss1=$(broker_rss)
		((fds1 <= fds0)) && pass "broker descriptors $fds0 -> $fds1 across the churn" || fail "broker leaked descriptors: $fds0 -> $fds1"
		# Another 5 s of the same load: a per-connection leak keeps growing, a warm heap does not.
		out=$(churn 5)
		sleep 0.5
		rss2=$(broker_rss)
		rounds=$(awk '{print $2}' <<<"$out")
		((rss2 - rss1 < 12288)) && pass "broker RSS steady under load: $rss1 -> $rss2 KiB over $rounds more grafts" ||
			fail "broker memory grew: $rss1 -> $rss2 KiB over $rounds grafts"
	fi
fi

# ---------------------------------------------------------------------------
section "cleanup of a deleted namespace"
if [[ -n $BROKER_PID ]]; then
	ip netns add "gc3-$$" && g -n "gc3-$$" ep add ep-gone type ipv4 addr 127.0.0.1 port dynamic
	n_before=$(ls "/proc/$BROKER_PID/fd" | wc -l)
	ip netns del "gc3-$$"
	ok=0
	for _ in $(seq 50); do
		sleep 0.2
		(($(ls "/proc/$BROKER_PID/fd" | wc -l) < n_before)) && { ok=1; break; }
	done
	((ok)) && pass "the broker forgot a deleted namespace's endpoints and released it" || fail "deleted namespace still held by the broker"
fi

printf '\n%d passed, %d failed (%s backend)\n' "$npass" "$nfail" "$BACKEND"
((nfail == 0))
