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
# Each section is a function that sets up what it needs (need_* helpers are
# idempotent), so any one runs alone:  tests/e2e.sh --only ingress,udp
# (--list prints the names). --mode preload|seccomp is passed to every
# `graft run`. Traffic goes only to loopback addresses. Everything the suite
# creates is removed at exit, and checked to be gone (tests/lib.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
source tests/lib.sh

SECTIONS=(ep-show ingress egress ipv6 ranges lpm pool udp unix target-netns library
	isolation privilege bad-input robustness spares scale gc)
usage() {
	echo "usage: $0 [--backend broker|kernel] [--mode preload|seccomp] [--quick] [--only SECTION[,SECTION]...] [--list]" >&2
	exit 2
}
lib_args e2e.sh "$@"
QUICK=0
MODE_ARGS=()
set -- "${LIB_ARGS[@]}"
while (($#)); do
	case $1 in
	--mode) MODE_ARGS=(--mode "${2:-}"); shift 2 || usage ;;
	--mode=*) MODE_ARGS=(--mode "${1#*=}"); shift ;;
	--quick) QUICK=1; shift ;; # skip the 10 s churn
	*) usage ;;
	esac
done
if ((${#MODE_ARGS[@]})) && [[ ${MODE_ARGS[1]} != preload && ${MODE_ARGS[1]} != seccomp ]]; then
	echo "e2e.sh: unknown mode \"${MODE_ARGS[1]}\" (preload or seccomp)" >&2
	exit 2
fi

lib_init e2e
C1=gc1-$$
C2=gc2-$$
export GRAFT_SOCKET=$TMP/graft.sock
export GRAFT_GC_MS=500
export GRAFT_MAX_CLIENTS=64
g() { "$GRAFT" --backend "$BACKEND" "$@"; }
# $RUN1 RUN-ARGS...: graft run in $C1, in the mode asked for (an array, for bg and timeout).
RUN1=("$GRAFT" --backend "$BACKEND" -n "$C1" run "${MODE_ARGS[@]}")
# grun NETNS RUN-ARGS...: the same in any namespace.
grun() {
	local ns=$1
	shift
	"$GRAFT" --backend "$BACKEND" -n "$ns" run "${MODE_ARGS[@]}" "$@"
}

# need_ep NAME SPEC...: define endpoint NAME in $C1 once.
declare -A HAVE=()
need_ep() {
	[[ -n ${HAVE[ep:$1]:-} ]] && return 0
	g -n "$C1" ep add "$@" || { fail "adding endpoint $1 in $C1"; return 1; }
	HAVE[ep:$1]=1
}
# need_web: python3 http.server on the host, 127.0.0.1:$P_WEB, serving $TMP/www.
need_web() {
	[[ -n ${HAVE[web]:-} ]] && return 0
	P_WEB=$(free_port)
	bg python3 -m http.server "$P_WEB" --bind 127.0.0.1 --directory "$TMP/www" >/dev/null 2>&1
	wait_listen tcp "$P_WEB" || fail "http.server did not start"
	HAVE[web]=1
}
# need_peer: a host TCP server answering "peer ADDR PORT", 127.0.0.1:$P_PEER.
need_peer() {
	[[ -n ${HAVE[peer]:-} ]] && return 0
	P_PEER=$(free_port)
	bg python3 "$TOOLS/peer_server.py" tcp 0.0.0.0 "$P_PEER" 300 >/dev/null
	wait_listen tcp "$P_PEER" || fail "peer server did not start"
	HAVE[peer]=1
}

# ---------------------------------------------------------------------------
setup() {
	section "setup ($BACKEND backend${MODE_ARGS[1]:+, ${MODE_ARGS[1]} mode})"
	netns_new "$C1" && netns_new "$C2" || { fail "ip netns add"; finish; }
	if [[ $BACKEND == broker ]]; then
		start_broker || finish
	fi
	mkdir -p "$TMP/www"
	TOKEN=graft-$RANDOM-$RANDOM
	echo "$TOKEN" >"$TMP/www/token.txt"
	if ((${#MODE_ARGS[@]})); then
		local out
		if out=$(grun "$C1" -- true 2>&1); then
			pass "graft run ${MODE_ARGS[*]} is accepted"
		else
			fail "graft run ${MODE_ARGS[*]} refused: $out"
			finish
		fi
	fi
	P_TEST=$(free_port)
	need_ep ep-test type ipv4 addr 127.0.0.1 port "$P_TEST" &&
		need_ep ep-out type ipv4 addr 127.0.0.1 port dynamic &&
		pass "endpoints added in $C1"
}

# ---------------------------------------------------------------------------
sec_ep_show() {
	section "ep show"
	local out want
	out=$(g -n "$C1" ep show)
	want=$(printf 'ep-out type ipv4 addr 127.0.0.1 port dynamic\nep-test type ipv4 addr 127.0.0.1 port %s' "$P_TEST")
	[[ $out == "$want" ]] &&
		pass "ep show prints the seed's format" || fail "ep show printed: $out"
	out=$(g -n "$C1" -j ep show ep-test)
	python3 -c 'import json,sys; e=json.load(sys.stdin); assert e==[{"name":"ep-test","type":"ipv4","addr":"127.0.0.1","port":int(sys.argv[1])}], e' "$P_TEST" <<<"$out" &&
		pass "ep show -j prints JSON" || fail "ep show -j printed: $out"
	[[ -z $(g -n "$C2" ep show) ]] && pass "$C2 has no endpoints" || fail "$C2 shows endpoints"
	# NETNS as a path and as the PID of a process inside it.
	[[ $(g -n "/run/netns/$C1" ep show) == "$want" ]] && pass "-n /run/netns/$C1 (a path) names the same namespace" ||
		fail "-n with a path"
	bg ip netns exec "$C1" sleep 600
	local sleeper=$!
	sleep 0.2
	[[ $(g -n "$sleeper" ep show) == "$want" ]] && pass "-n $sleeper (a PID inside $C1) names the same namespace" ||
		fail "-n with a PID"
	stop_group "$sleeper"
}

sec_ingress() {
	section "the seed's ingress example: iperf3 -s grafted, host iperf3 -c"
	bg "${RUN1[@]}" -i 0.0.0.0:5201=ep-test -- iperf3 -s -1 >"$TMP/iperf-s.log" 2>&1
	if wait_listen tcp "$P_TEST"; then
		pass "iperf3 in $C1 listens on host 127.0.0.1:$P_TEST"
		if timeout 20 iperf3 -c 127.0.0.1 -p "$P_TEST" -t 1 -J >"$TMP/iperf-c.json" 2>&1; then
			local bytes
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
}

sec_egress() {
	section "the seed's egress example: curl grafted, python3 http.server on the host"
	need_web
	local out url="http://127.0.0.1:$P_WEB/token.txt"
	out=$(timeout 120 "${RUN1[@]}" -e 0.0.0.0/0=ep-out -- curl -s --max-time 5 "$url")
	[[ $out == "$TOKEN" ]] && pass "grafted curl in $C1 fetched the host's page" || fail "grafted curl got: $out"
	out=$(ip netns exec "$C1" curl -s --max-time 2 "$url")
	[[ $out != "$TOKEN" ]] && pass "the same curl without graft cannot reach it" || fail "ungrafted curl reached the host"
	out=$(timeout 120 "${RUN1[@]}" -v -e 0.0.0.0/0=ep-out -- curl -s --max-time 5 "$url" 2>&1 >/dev/null)
	if [[ ${MODE_ARGS[1]:-} == seccomp ]]; then
		# The seccomp engine shows the supervised command with its mapping.
		[[ $out == *graft-exec*"-e 0.0.0.0/0=ep-out"*curl* ]] &&
			pass "-v prints the supervised command and its mapping" || fail "-v printed: $out"
	else
		[[ $out == *"GRAFT_EGRESS_CONVERT=0.0.0.0/0=ep-out"* && $out == *"ep-out"*"127.0.0.1:$P_WEB"* ]] &&
			pass "-v prints the environment and the conversion trace" || fail "-v printed: $out"
	fi
}

sec_ipv6() {
	section "IPv6 (::1) both ways"
	local p_in p_web out
	p_in=$(free_port)
	p_web=$(free_port)
	need_ep ep6-in type ipv6 addr ::1 port "$p_in"
	need_ep ep6-out type ipv6 addr ::1 port dynamic
	bg "${RUN1[@]}" -i '[::]:8000=ep6-in' -- python3 -m http.server 8000 --bind :: --directory "$TMP/www" >/dev/null 2>&1
	if wait_listen tcp "$p_in"; then
		out=$(curl -s --max-time 5 -g "http://[::1]:$p_in/token.txt")
		[[ $out == "$TOKEN" ]] && pass "host curl [::1]:$p_in reached the grafted IPv6 server" || fail "IPv6 ingress got: $out"
	else
		fail "grafted IPv6 server never listened"
	fi
	bg python3 -m http.server "$p_web" --bind ::1 --directory "$TMP/www" >/dev/null 2>&1
	wait_listen tcp "$p_web"
	out=$(timeout 120 "${RUN1[@]}" -e ::/0=ep6-out -- curl -s --max-time 5 -g "http://[::1]:$p_web/token.txt")
	[[ $out == "$TOKEN" ]] && pass "grafted curl reached the host's [::1]:$p_web" || fail "IPv6 egress got: $out"
}

sec_ranges() {
	section "ingress port ranges and several mappings"
	local pr1 pr2 px lo hi a b c
	pr1=$(free_port)
	pr2=$(free_port)
	px=$(free_port)
	need_ep ep-range type ipv4 addr 127.0.0.1 port dynamic
	need_ep ep-x type ipv4 addr 127.0.0.1 port "$px"
	lo=$((pr1 < pr2 ? pr1 : pr2))
	hi=$((pr1 < pr2 ? pr2 : pr1))
	SECONDS_UP=300 bg "${RUN1[@]}" -i "0.0.0.0:$lo-$hi=ep-range" -i 0.0.0.0:7777=ep-x \
		-- python3 "$TOOLS/listen_many.py" 0.0.0.0 "$pr1" "$pr2" 7777 7778 >"$TMP/many.log" 2>&1
	if wait_listen tcp "$pr1" && wait_listen tcp "$pr2" && wait_listen tcp "$px"; then
		a=$(python3 "$TOOLS/client.py" tcp 127.0.0.1 "$pr1")
		b=$(python3 "$TOOLS/client.py" tcp 127.0.0.1 "$pr2")
		c=$(python3 "$TOOLS/client.py" tcp 127.0.0.1 "$px")
		[[ $a == "port $pr1" && $b == "port $pr2" ]] &&
			pass "ports $pr1 and $pr2 in range $lo-$hi grafted onto a dynamic endpoint keep their port" ||
			fail "range mapping: got '$a' '$b'"
		[[ $c == "port 7777" ]] && pass "second -i mapping: 7777 grafted onto ep-x ($px)" || fail "second mapping: got '$c'"
		[[ -n $(ip netns exec "$C1" ss -Hltn "sport = :7778") ]] && pass "unmapped port 7778 stays inside $C1" ||
			fail "unmapped port 7778 not inside $C1"
	else
		fail "range listeners did not appear on the host: $(cat "$TMP/many.log")"
	fi
}

# run_peer MAPPINGS...: the grafted client.py's view of the host peer server.
run_peer() { timeout 120 "${RUN1[@]}" "$@" -- python3 "$TOOLS/client.py" tcp 127.0.0.1 "$P_PEER"; }

sec_lpm() {
	section "egress longest-prefix choice"
	need_peer
	need_ep ep-lo2 type ipv4 addr 127.0.0.2 port dynamic
	need_ep ep-lo3 type ipv4 addr 127.0.0.3 port dynamic
	need_ep ep6-out type ipv6 addr ::1 port dynamic
	local out
	out=$(run_peer -e 0.0.0.0/0=ep-out -e 127.0.0.0/8=ep-lo2)
	[[ $out == "peer 127.0.0.2 "* ]] && pass "127.0.0.0/8 beats 0.0.0.0/0 (source $out)" || fail "LPM /8: $out"
	out=$(run_peer -e 127.0.0.0/8=ep-lo2 -e 127.0.0.1/32=ep-lo3 -e 0.0.0.0/0=ep-out)
	[[ $out == "peer 127.0.0.3 "* ]] && pass "127.0.0.1/32 beats /8 and /0 whatever the order (source $out)" || fail "LPM /32: $out"
	out=$(run_peer -e 10.0.0.0/8=ep-lo2 -e ::/0=ep6-out 2>/dev/null)
	[[ $out != "peer "* ]] && pass "a destination no mapping covers is left alone (not grafted)" ||
		fail "unmapped destination was grafted: $out"
}

sec_pool() {
	section "client-socket stock (egress on a port-dynamic endpoint)"
	need_peer
	need_ep ep-lo3 type ipv4 addr 127.0.0.3 port dynamic
	g -n "$C1" ep add ep-pool type ipv4 addr 127.0.0.2 port dynamic || fail "adding ep-pool"
	bg "${RUN1[@]}" -e 127.0.0.0/8=ep-pool -- python3 "$TOOLS/pool_check.py" 127.0.0.1 "$P_PEER" "$TMP/pool-go" >"$TMP/pool.out" 2>&1
	local pool=$! out
	wait_for 60 grep -q "fork ok" "$TMP/pool.out" || fail "pool_check.py did not finish its fork step in 60 s"
	{ g -n "$C1" ep del ep-pool && g -n "$C1" ep add ep-pool type ipv4 addr 127.0.0.4 port dynamic; } >"$TMP/pool-redef" 2>&1 ||
		fail "redefining ep-pool: $(tr '\n' ' ' <"$TMP/pool-redef")"
	touch "$TMP/pool-go"
	timeout 30 tail --pid="$pool" -f /dev/null
	out=$(cat "$TMP/pool.out")
	[[ $out == *"first 127.0.0.2"* ]] && pass "grafted connect() through ep-pool (127.0.0.2)" || fail "pool: $out"
	[[ $out == *"fork ok 40"* ]] && pass "parent and child after fork() got 40 distinct sockets" || fail "pool across fork: $out"
	[[ $out == *"after 127.0.0.4"* ]] && pass "a redefined endpoint is used once the stock expires (127.0.0.4)" ||
		fail "pool after redefining the endpoint: $out"
	out=$(GRAFT_POOL=0 run_peer -e 127.0.0.0/8=ep-lo3)
	[[ $out == "peer 127.0.0.3 "* ]] && pass "GRAFT_POOL=0 grafts one socket per connect ($out)" || fail "GRAFT_POOL=0: $out"
	[[ $BACKEND == broker && ${MODE_ARGS[1]:-preload} == preload ]] && spec_checks
}

# socket() served from the stock (libgraft, broker backend); the broker counts the sockets it served.
served() { g status | sed -n 's/^grafts: \([0-9]*\) sockets served.*/\1/p'; }
spec() { timeout 60 "${RUN1[@]}" -e 127.0.0.1/32=ep-lo3 -- python3 tests/preload/spec_check.py "$1" "$P_PEER" 2>&1; }
spec_checks() {
	local out before n
	out=$(spec v4mapped)
	[[ $out == "v4mapped 127.0.0.3 True :: 0 127.0.0.3" ]] &&
		pass "an IPv6 socket() on an IPv4 endpoint is served from the stock (v4-mapped) and connects" ||
		fail "speculative IPv6 socket on an IPv4 endpoint: $out"
	before=$(served)
	out=$(spec never)
	[[ $out == "never done" && $(served) == "$before" ]] &&
		pass "a program that never grafts gets no socket from the broker ($before -> $(served) served)" ||
		fail "a program that never grafts: $out, $before -> $(served) sockets served"
	before=$(served)
	out=$(spec adapt)
	n=$(($(served) - before))
	# At most an empty stock's first 4 and two batches of 32.
	[[ $out == $'stocked 17\nlate namespace' && $n -le 68 ]] &&
		pass "after 17 unused stocked sockets a program stops speculating ($n sockets served for 121 socket() calls)" ||
		fail "adaptive speculation: $out, $n sockets served"
}

sec_udp() {
	section "UDP both ways"
	local p_in p_peer out
	p_in=$(free_port)
	p_peer=$(free_port)
	need_ep ep-udp type ipv4 addr 127.0.0.1 port "$p_in"
	need_ep ep-lo2 type ipv4 addr 127.0.0.2 port dynamic
	bg "${RUN1[@]}" -i 0.0.0.0:9000=ep-udp -- python3 "$TOOLS/peer_server.py" udp 0.0.0.0 9000 300 >/dev/null 2>&1
	if wait_listen udp "$p_in"; then
		out=$(python3 "$TOOLS/client.py" udp 127.0.0.1 "$p_in" hello-udp)
		[[ $out == "peer 127.0.0.1 "*" hello-udp" ]] && pass "host UDP client reached the grafted UDP server ($out)" || fail "UDP ingress: $out"
	else
		fail "grafted UDP server never bound $p_in"
	fi
	bg python3 "$TOOLS/peer_server.py" udp 127.0.0.1 "$p_peer" 300 >/dev/null
	wait_listen udp "$p_peer"
	out=$(timeout 120 "${RUN1[@]}" -e 127.0.0.0/8=ep-lo2 -- python3 "$TOOLS/client.py" udp 127.0.0.1 "$p_peer" hi)
	[[ $out == "peer 127.0.0.2 "*" hi" ]] && pass "grafted UDP sendto() left through ep-lo2 ($out)" || fail "UDP egress: $out"
}

sec_unix() {
	section "a Unix-path endpoint"
	need_ep ep-unix type unix path "$TMP/app.sock"
	bg "${RUN1[@]}" -i 0.0.0.0:8080=ep-unix -- python3 -m http.server 8080 --directory "$TMP/www" >/dev/null 2>&1
	wait_for 10 test -S "$TMP/app.sock"
	local out
	out=$(curl -s --max-time 5 --unix-socket "$TMP/app.sock" http://graft/token.txt)
	[[ $out == "$TOKEN" ]] && pass "host curl --unix-socket reached python3 http.server in $C1" || fail "unix endpoint: $out"
}

sec_target_netns() {
	section "an endpoint whose target is another namespace (netns $C2)"
	local p_t out
	p_t=$(free_port)
	need_ep ep-far type ipv4 addr 127.0.0.1 port "$p_t" netns "$C2"
	[[ $(g -n "$C1" ep show ep-far) == "ep-far type ipv4 addr 127.0.0.1 port $p_t netns "* ]] &&
		pass "ep show names the target namespace" || fail "ep-far shows as: $(g -n "$C1" ep show ep-far)"
	bg "${RUN1[@]}" -i 0.0.0.0:8081=ep-far -- python3 -m http.server 8081 --bind 0.0.0.0 --directory "$TMP/www" >/dev/null 2>&1
	if wait_listen -n "$C2" tcp "$p_t"; then
		out=$(ip netns exec "$C2" curl -s --max-time 5 "http://127.0.0.1:$p_t/token.txt")
		[[ $out == "$TOKEN" ]] && pass "a server in $C1 listens in $C2's stack; $C2 reaches it" || fail "target netns: $out"
		[[ -z $(ss -Hltn "sport = :$p_t") ]] && pass "and not in the host's" || fail "ep-far listened on the host"
	else
		fail "nothing listened on $p_t in $C2"
	fi
}

sec_library() {
	section "library: a program using only mod.ts"
	local p_ex out
	p_ex=$(free_port)
	echo "served through mod.ts" >"$TMP/www/index.html"
	out=$(timeout 60 "$ROOT/.tools/bin/deno" run --allow-all --quiet "$ROOT/examples/graft_server.ts" "$C1" "$p_ex" "$TMP/www" 2>&1)
	[[ $out == "ex-web: served through mod.ts" ]] && pass "examples/graft_server.ts grafted a server from $C1 and fetched it" ||
		fail "mod.ts example: $out"
	[[ -z $(g -n "$C1" ep show ex-web 2>/dev/null) ]] && pass "the example removed its endpoint" || fail "ex-web left behind"
}

sec_isolation() {
	section "isolation: $C2 cannot use $C1's endpoints"
	need_web
	expect_fail "graft -n $C2 run -i ...=ep-test" 1 'ep-test' -- grun "$C2" -i 0.0.0.0:5201=ep-test -- true
	local lib=${GRAFT_PRELOAD:-$ROOT/preload/build/libgraft.so} out
	out=$(ip netns exec "$C2" env LD_PRELOAD="$lib" GRAFT_BACKEND="$BACKEND" GRAFT_INGRESS_CONVERT=0.0.0.0:5201=ep-test \
		python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0",5201)); print("bound")' 2>&1)
	[[ $out != *bound && $out == *ep-test* && $out == *"Cannot assign requested address"* ]] &&
		pass "preloaded bind() in $C2 fails with EADDRNOTAVAIL, naming ep-test" || fail "bind in $C2: $out"
	out=$(ip netns exec "$C2" env LD_PRELOAD="$lib" GRAFT_BACKEND="$BACKEND" GRAFT_EGRESS_CONVERT=0.0.0.0/0=ep-out \
		curl -s --max-time 5 "http://127.0.0.1:$P_WEB/token.txt" 2>&1)
	[[ $out != *"$TOKEN"* && $out == *ep-out* ]] && pass "preloaded curl in $C2 fails, naming ep-out" || fail "connect in $C2: $out"
	g -n "$C2" ep add ep-test type ipv4 addr 127.0.0.5 port dynamic || fail "adding $C2's own ep-test"
	[[ $(g -n "$C1" ep show ep-test) == *"port $P_TEST" && $(g -n "$C2" ep show ep-test) == *127.0.0.5* ]] &&
		pass "the same name in two namespaces means two endpoints" || fail "endpoints leaked across namespaces"
	g -n "$C2" ep del ep-test
}

sec_privilege() {
	section "privilege"
	id nobody >/dev/null 2>&1 || { skip "no user nobody to act as"; return; }
	local as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups "$GRAFT" --backend "$BACKEND")
	expect_fail "non-root ep add" 1 'root|permission|Operation not permitted' -- \
		"${as_nobody[@]}" ep add evil type ipv4 addr 127.0.0.1 port 1
	expect_fail "non-root ep del" 1 'root|permission|Operation not permitted' -- "${as_nobody[@]}" ep del ep-out
	[[ $(g -n "$C1" ep show ep-out) == ep-out* ]] && pass "ep-out survived the attempts" || fail "non-root changed endpoints"
	expect_fail "non-root run inside another namespace" 1 'setns: Operation not permitted' -- \
		"${as_nobody[@]}" -n "$C1" run "${MODE_ARGS[@]}" -- true
}

sec_bad_input() {
	section "bad input: one line, non-zero exit, nothing created"
	local before netns_before gb=("$GRAFT" --backend "$BACKEND")
	before=$(g -n "$C1" ep show)
	ours() { ip netns list | awk '{print $1}' | grep -e "-$$\$" | sort; }
	netns_before=$(ours)
	expect_fail "-i without a port" 2 'bad ingress mapping "1.2.3.4=ep"' -- "$GRAFT" -n "$C1" run -i 1.2.3.4=ep -- true
	expect_fail "-e with /33" 2 'prefix length "33"' -- "$GRAFT" -n "$C1" run -e 10.0.0.0/33=x -- true
	expect_fail "-i port range backwards" 2 'empty' -- "$GRAFT" run -i 0.0.0.0:90-80=ep -- true
	expect_fail "16-byte endpoint name" 2 'is 16 bytes; the limit is 15' -- "${gb[@]}" -n "$C1" ep add 0123456789abcdef type ipv4 addr 127.0.0.1 port 1
	expect_fail "unknown type" 2 'unknown type "ipx"' -- "${gb[@]}" -n "$C1" ep add x type ipx addr 127.0.0.1 port 1
	expect_fail "port 70000" 2 'bad port "70000"' -- "${gb[@]}" -n "$C1" ep add x type ipv4 addr 127.0.0.1 port 70000
	expect_fail "bad address" 2 'not an ipv4 address' -- "${gb[@]}" -n "$C1" ep add x type ipv4 addr 300.1.1.1 port 1
	expect_fail "ipv6 address for ipv4" 2 'not an ipv4 address' -- "${gb[@]}" -n "$C1" ep add x type ipv4 addr ::1 port 1
	expect_fail "unknown namespace" 1 'network namespace "nosuch-ns-'$$'" not found' -- "${gb[@]}" -n "nosuch-ns-$$" ep show
	expect_fail "unknown target namespace" 1 'not found' -- "${gb[@]}" -n "$C1" ep add x type ipv4 addr 127.0.0.1 port 1 netns "nosuch-ns-$$"
	expect_fail "duplicate endpoint" 1 'already exists' -- "${gb[@]}" -n "$C1" ep add ep-out type ipv4 addr 127.0.0.1 port dynamic
	expect_fail "deleting a missing endpoint" 1 'no endpoint "nope"' -- "${gb[@]}" -n "$C1" ep del nope
	expect_fail "unknown command" 2 'unknown command' -- "$GRAFT" frobnicate
	expect_fail "run without a command" 2 'no command' -- "$GRAFT" run -i 0.0.0.0:1=ep --
	expect_fail "a command that does not exist" 1 'command not found' -- grun "$C1" -- /nonexistent/prog
	if [[ $BACKEND == broker ]]; then
		expect_fail "broker not running" 1 'broker is not running' -- env GRAFT_SOCKET="$TMP/none.sock" "$GRAFT" --backend broker ep show
		expect_fail "kernel backend asked for without the module" 1 'kernel backend unavailable' -- "$GRAFT" --backend kernel ep show
		expect_fail "a second broker on the same socket" 1 'already listening' -- "$GRAFT" daemon --socket "$GRAFT_SOCKET"
		[[ -S $GRAFT_SOCKET ]] && pass "the running broker's socket is untouched" || fail "second daemon removed the socket"
	fi
	[[ $(g -n "$C1" ep show) == "$before" ]] && pass "endpoints unchanged after the bad input" || fail "bad input changed endpoints"
	[[ $(ours) == "$netns_before" ]] && pass "no namespace created or removed" || fail "namespaces changed"
}

sec_robustness() {
	section "broker robustness"
	[[ $BACKEND == broker ]] || { skip "the broker is not used by the $BACKEND backend"; return; }
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
	# One broker turn that both evicts (to admit a new client) and sees an old client hang up: the
	# new connection may get the evicted one's descriptor number, and must not get its hang-up.
	# The broker is stopped while the 32 clients (its per-uid share) change, so that one turn sees it all.
	python3 - "$GRAFT_SOCKET" "$BROKER_PID" <<'PY' && pass "a client admitted by an eviction is served (not closed for another's hang-up)" || fail "a new client was closed for an evicted client's hang-up"
import os, signal, socket, struct, sys
path, pid = sys.argv[1], int(sys.argv[2])
req = struct.pack("<IHHII", 0x54465247, 1, 1, 48, 10) + b"ep-test".ljust(16, b"\0") + struct.pack("<iiiHH", 2, 1, 0, 0, 0)
def ask(s):
    s.send(req); r = s.recv(4096); assert struct.unpack_from("<i", r, 16)[0] == 99, r
held = []
for _ in range(32):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.settimeout(5); s.connect(path); ask(s); held.append(s)
os.kill(pid, signal.SIGSTOP)
try:
    held[0].close()  # hangs up; admitting new[0] evicts it, and new[1] may reuse its number
    new = [socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(2)]
    for s in new: s.settimeout(5); s.connect(path); s.send(req)
finally:
    os.kill(pid, signal.SIGCONT)
for s in new:
    r = s.recv(4096); assert struct.unpack_from("<i", r, 16)[0] == 99, r
PY
	# More idle clients than the broker admits (GRAFT_MAX_CLIENTS=64): the idlest are closed, work goes on.
	bg python3 - "$GRAFT_SOCKET" >"$TMP/hog.out" 2>&1 <<'PY'
import socket, sys, time
held = []
for _ in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    held.append(s)
print("holding", len(held), flush=True)
time.sleep(4)
PY
	local hog=$! nclients
	wait_for 5 grep -q holding "$TMP/hog.out"
	nclients=$(ls "/proc/$BROKER_PID/fd" | wc -l)
	[[ $(g -n "$C1" ep show ep-out) == ep-out* ]] && pass "the broker serves while 300 idle clients hold connections" ||
		fail "broker stuck behind idle clients: $(cat "$TMP/hog.out")"
	((nclients < 150)) && pass "it kept its descriptors bounded ($nclients open)" || fail "broker holds $nclients descriptors"
	stop_group "$hog"
}

broker_fds() { ls "/proc/$BROKER_PID/fd" | wc -l; }
broker_rss() { awk '/VmRSS/ {print $2}' "/proc/$BROKER_PID/status"; }
churn() { timeout 120 "${RUN1[@]}" -e 127.0.0.0/8=ep-out -- python3 "$TOOLS/churn.py" 127.0.0.1 "$P_ECHO" 16 "$1" 2>&1; }

sec_scale() {
	section "scale"
	local out fds0 fds1 rss1 rss2 rounds
	P_ECHO=$(free_port)
	bg python3 "$TOOLS/echo_server.py" 127.0.0.1 "$P_ECHO" 300 >/dev/null
	wait_listen tcp "$P_ECHO"
	out=$(timeout 120 "${RUN1[@]}" -e 127.0.0.0/8=ep-out -- python3 "$TOOLS/many_conns.py" 127.0.0.1 "$P_ECHO" 1000 2>&1)
	[[ $out == *"held 1000"*"echoed 1000"* ]] && pass "one grafted process held 1000 concurrent grafted connections" || fail "1000 connections: $out"
	((QUICK)) && return
	# Warm the broker up first: its JavaScript heap grows to a working size.
	churn 5 >/dev/null
	[[ -n $BROKER_PID ]] && fds0=$(broker_fds)
	out=$(churn 10)
	[[ $? -eq 0 && $out == rounds* ]] && pass "16 threads for 10 s, no fd leak in the app: $out" || fail "churn: $out"
	[[ -n $BROKER_PID ]] || return
	# A leak stays; a connection the broker is still closing is gone within seconds.
	fds_settled() { (($(broker_fds) <= fds0)); }
	wait_for 5 fds_settled
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
}

sec_spares() {
	section "prepared spare sockets (port-0 clients)"
	[[ $BACKEND == broker ]] || { skip "the broker is not used by the $BACKEND backend"; return; }
	id nobody >/dev/null 2>&1 || { skip "no user nobody to graft as"; return; }
	local out
	out=$(ip netns exec "$C1" python3 tests/tools/spares_check.py "$GRAFT_SOCKET" "$BROKER_PID" \
		127.0.0.61 127.0.0.62 "$(id -u nobody)" 2>&1)
	local rc=$? fails=0 verdict what
	while read -r verdict what; do
		case $verdict in
		ok) pass "$what" ;;
		FAIL) fail "$what" && fails=$((fails + 1)) ;;
		esac
	done <<<"$out"
	((rc == 0 || fails > 0)) || fail "spares_check.py stopped: $out"
}

sec_gc() {
	section "cleanup of a deleted namespace"
	[[ -n $BROKER_PID ]] || { skip "no broker: the kernel frees a namespace's endpoints itself"; return; }
	local n_before ok=0
	netns_new "gc3-$$" && g -n "gc3-$$" ep add ep-gone type ipv4 addr 127.0.0.1 port dynamic
	n_before=$(broker_fds)
	ip netns del "gc3-$$"
	for _ in $(seq 50); do
		sleep 0.2
		(($(broker_fds) < n_before)) && { ok=1; break; }
	done
	((ok)) && pass "the broker forgot a deleted namespace's endpoints and released it" || fail "deleted namespace still held by the broker"
}

setup
# In the order of SECTIONS whatever the order asked ("ep-show" expects only setup's endpoints).
for s in "${SECTIONS[@]}"; do [[ " ${ONLY[*]} " == *" $s "* ]] && "sec_${s//-/_}"; done
finish "$BACKEND backend${MODE_ARGS[1]:+, ${MODE_ARGS[1]} mode}"
