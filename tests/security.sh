#!/usr/bin/env bash
# Security suite: every attack of docs/security.md performed as the attacker
# would (an unprivileged user, root without capabilities, crafted bytes on the
# broker socket), each expected to be refused, and after each one a normal
# client of another namespace must still be served within 2 s.
#
#   tests/security.sh [-v] [ATTACK...]    ATTACK: 1 2 3 4 5 6 7 8 12 (default: all)
#
# The attacker runs as uid 65534 with /usr/bin/python3 and the raw wire
# protocol (tests/security/wire.py), never through graft's own code. Everything
# created here (namespaces, broker, listeners, files) is removed by the trap,
# and the suite ends with a leak check.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERBOSE=0
ONLY=()
for a in "$@"; do
	case $a in
	-v) VERBOSE=1 ;;
	1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 10 | 12 | 13) ONLY+=("$a") ;;
	*) echo "usage: $0 [-v] [1|2|3|4|5|6|7|8|10|12|13]..." >&2; exit 2 ;;
	esac
done
if ((EUID != 0)); then
	echo "security suite: needs root (it creates namespaces and runs attackers as other users)" >&2
	exit 77
fi
for tool in setpriv unshare ip ss; do
	command -v "$tool" >/dev/null || { echo "security suite: $tool is missing; skipping" >&2; exit 77; }
done
if ! id -u nobody >/dev/null 2>&1; then
	echo "security suite: no user nobody to attack as; skipping" >&2
	exit 77
fi

GRAFT=${GRAFT:-$ROOT/.tools/bin/graft}
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/graft-sec.XXXXXX)
chmod 755 "$TMP"
cp "$ROOT"/tests/security/wire.py "$ROOT"/tests/security/attack.py "$TMP"/
A=$TMP/attack.py
export GRAFT_SOCKET=$TMP/graft.sock
SOCK=$GRAFT_SOCKET
C1=gsec1-$$ # the victim container: endpoints, normal clients
T1=gsect-$$ # a target namespace with an interface of its own (item 7)
EXTRA_NS=()
WMEM_MAX=
PIDS=()
BROKER_PID=
NOBODY=65534

npass=0
nfail=0
pass() { npass=$((npass + 1)); printf '  ok    %s\n' "$*"; }
fail() { nfail=$((nfail + 1)); printf '  FAIL  %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
want() { ((${#ONLY[@]} == 0)) || [[ " ${ONLY[*]} " == *" $1 "* ]]; }

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[[ -n $BROKER_PID ]] && kill -CONT "$BROKER_PID" 2>/dev/null
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [[ -n $BROKER_PID ]]; then
		kill "$BROKER_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$BROKER_PID" 2>/dev/null
		wait "$BROKER_PID" 2>/dev/null
	fi
	for ns in "$C1" "$T1" "${EXTRA_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[[ -n $WMEM_MAX ]] && sysctl -qw net.core.wmem_max="$WMEM_MAX"
	rm -rf "$TMP"
}
trap cleanup EXIT

bg() { "$@" & PIDS+=($!); }
NOB=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups --)
as_nobody() { "${NOB[@]}" "$@"; }
in_c1() { ip netns exec "$C1" "$@"; }

# verdict LABEL -- command: the attack's one-line verdict; exit 0 = refused.
verdict() {
	local what=$1
	shift 2
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	out=$(printf '%s' "$out" | tail -1)
	case $rc in
	0) pass "$what: $out" ;;
	2) fail "$what: could not be set up: $out" ;;
	*) fail "$what: $out" ;;
	esac
}

# normal AFTER: a client of namespace $C1 (uid 65534) gets a socket within 2 s.
normal() {
	local out
	if out=$(in_c1 "${NOB[@]}" timeout 10 $PY "$A" served "$SOCK" ep-dyn 2 2>&1); then
		pass "after $1: normal client served (${out#SERVED: })"
	else
		fail "after $1: normal client not served: ${out:-timed out}"
	fi
}

wait_file() { for _ in $(seq "$((${2:-10} * 10))"); do [[ -s $1 ]] && return 0; sleep 0.1; done; return 1; }

free_port() {
	$PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A free TCP port below ip_unprivileged_port_start on 127.0.0.1.
free_low_port() {
	$PY -c 'import socket, sys
lim = int(open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read())
for p in range(min(lim, 1024) - 1, 0, -1):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p)); print(p); sys.exit(0)
    except OSError: pass
sys.exit(1)'
}

start_broker() {
	GRAFT_MAX_CLIENTS=${1:-64} "$GRAFT" daemon --socket "$SOCK" 2>>"$TMP/broker.log" &
	BROKER_PID=$!
	for _ in $(seq 100); do [[ -S $SOCK ]] && return 0; sleep 0.1; done
	fail "broker did not start: $(cat "$TMP/broker.log")"
	exit 1
}

# ---------------------------------------------------------------------------
section "setup"
ip netns add "$C1" && ip -n "$C1" link set lo up
ip netns add "$T1" && ip -n "$T1" link set lo up && ip -n "$T1" link add gsecd0 type veth peer name gsecd1 &&
	ip -n "$T1" link set gsecd0 up
install -d -o $NOBODY -g $NOBODY "$TMP/u6" "$TMP/u6/d"
install -d "$TMP/victim" "$TMP/u7"
install -d -o $NOBODY -g $NOBODY "$TMP/att" # where attackers leave their notes
start_broker 48
P_FIXED=$(free_port)
g() { "$GRAFT" --backend broker "$@"; }
g -n "$C1" ep add ep-dyn type ipv4 addr 127.0.0.1 port dynamic &&
	g -n "$C1" ep add ep-fixed type ipv4 addr 127.0.0.1 port "$P_FIXED" &&
	g -n "$C1" ep add ep-hang type unix path "$TMP/u6/hang.sock" &&
	g -n "$C1" ep add ep-sym type unix path "$TMP/u6/d/app.sock" &&
	g -n "$C1" ep add ep-abs type unix path "$TMP/u7/app.sock" &&
	g -n "$C1" ep add ep-t type ipv4 addr 127.0.0.1 port dynamic netns "/run/netns/$T1" &&
	pass "broker on $SOCK; endpoints in $C1" || { fail "setting up endpoints"; exit 1; }
normal "setup"

# ---------------------------------------------------------------------------
if want 1; then
	section "1. root without capabilities administers the broker"
	LOWPORT=$(free_low_port) || LOWPORT=1
	verdict "euid 0, no capabilities (setpriv --bounding-set=-all)" -- \
		env LOWPORT="$LOWPORT" setpriv --reuid=0 --regid=0 --clear-groups --inh-caps=-all \
		--ambient-caps=-all --bounding-set=-all -- $PY "$A" admin-ops "$SOCK" "/run/netns/$C1"
	verdict "uid 0 of a new user namespace (unshare -U -r)" -- \
		env LOWPORT="$LOWPORT" INIT_USERNS="$(stat -L -c %i /proc/self/ns/user)" unshare -U -r -- $PY "$A" admin-ops "$SOCK" "/run/netns/$C1" userns
	[[ $(g -n "$C1" ep show ep-fixed 2>/dev/null) == *"port $P_FIXED"* ]] &&
		pass "ep-fixed is still defined in $C1" || {
		fail "ep-fixed was deleted by the attacker"
		g -n "$C1" ep add ep-fixed type ipv4 addr 127.0.0.1 port "$P_FIXED"
	}
	g ep del evil 2>/dev/null && echo "(removed the attacker's endpoint evil from the host namespace)"
	normal "attack 1"
fi

# ---------------------------------------------------------------------------
if want 2; then
	section "2. a namespace identity inherited by another tenant"
	rm -f "$TMP/att/r2" "$TMP/att/r2.go"
	as_nobody $PY "$A" inode-reuse "$SOCK" "$TMP/att/r2" "$TMP/att/r2.go" >"$TMP/r2.out" 2>&1 &
	ATT=$!
	PIDS+=($ATT)
	if wait_file "$TMP/att/r2" 10; then
		ino=$(cat "$TMP/att/r2")
		found=
		for i in $(seq 100); do
			ns=gsecr$i-$$
			ip netns add "$ns" || break
			EXTRA_NS+=("$ns")
			if [[ $(stat -L -c %i "/run/netns/$ns") == "$ino" ]]; then found=$ns; break; fi
			sleep 0.05
		done
		if [[ -n $found ]]; then
			g -n "$found" ep add victim type ipv4 addr 127.0.0.1 port dynamic
			echo "root's namespace $found got inode $ino after $i tries; endpoint victim added there"
		else
			g -n "${EXTRA_NS[-1]}" ep add victim type ipv4 addr 127.0.0.1 port dynamic
			echo "inode $ino was not reused within ${#EXTRA_NS[@]} new namespaces"
		fi
		echo victim >"$TMP/att/r2.go"
	fi
	wait "$ATT"
	rc=$?
	line=$(tail -1 "$TMP/r2.out")
	((rc == 0)) && pass "connection kept from a dead namespace: $line" || fail "namespace inode reuse: $line"
	for ns in "${EXTRA_NS[@]}"; do ip netns del "$ns"; done
	EXTRA_NS=()

	# The connecting process exits before the broker accepts; its PID goes to
	# a process inside $C1 (the broker is stopped meanwhile to hold the window open).
	rm -f "$TMP/att/p2" "$TMP/att/p2.go"
	kill -STOP "$BROKER_PID"
	as_nobody $PY "$A" pid-reuse "$SOCK" "$TMP/att/p2" "$TMP/att/p2.go" ep-dyn >"$TMP/p2.out" 2>&1 &
	ATT=$!
	PIDS+=($ATT)
	if wait_file "$TMP/att/p2" 10; then
		pid=$(cat "$TMP/att/p2")
		if $PY "$A" spawn-at-pid "$SOCK" "$pid" "/run/netns/$C1" 8 >"$TMP/p2.spawn" 2>&1; then
			echo "PID $pid now belongs to a process in $C1"
		else
			echo "could not recreate PID $pid: $(cat "$TMP/p2.spawn")"
		fi
	fi
	kill -CONT "$BROKER_PID"
	sleep 0.3
	echo go >"$TMP/att/p2.go"
	wait "$ATT"
	rc=$?
	line=$(tail -1 "$TMP/p2.out")
	((rc == 0)) && pass "PID reused between connect and accept: $line" || fail "PID reuse: $line"
	[[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null

	verdict "a client whose main thread exited is served from its own namespace" -- \
		in_c1 "${NOB[@]}" timeout 10 $PY "$A" main-thread-exit "$SOCK" ep-dyn
	normal "attack 2"
fi

# ---------------------------------------------------------------------------
if want 3; then
	section "3. a descriptor passed to the broker freezes it"
	rm -f "$TMP/att/r3"
	as_nobody $PY "$A" pass-fd "$SOCK" "$TMP/att/r3" 5 >"$TMP/r3.out" 2>&1 &
	ATT=$!
	PIDS+=($ATT)
	wait_file "$TMP/att/r3" 10 && echo "attacker: $(cat "$TMP/att/r3")"
	normal "attack 3 (while the attacker's socket lingers)"
	wait "$ATT"
	rc=$?
	line=$(tail -1 "$TMP/r3.out")
	((rc == 0)) && pass "SCM_RIGHTS from a client: $line" || fail "SCM_RIGHTS accepted: $line"
fi

# ---------------------------------------------------------------------------
if want 4; then
	section "4. port dynamic grants what the client could not bind itself"
	LOWPORT=$(free_low_port) || LOWPORT=
	if [[ -n $LOWPORT ]]; then
		verdict "uid 65534 asks ep-dyn for port $LOWPORT (< ip_unprivileged_port_start)" -- \
			in_c1 "${NOB[@]}" $PY "$A" low-port "$SOCK" ep-dyn "$LOWPORT"
	else
		fail "no free port below ip_unprivileged_port_start to try"
	fi
	P_RP=$(free_port)
	bg $PY -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(60)' "$P_RP"
	RP_PID=$!
	for _ in $(seq 50); do [[ -n $(ss -Hltn "sport = :$P_RP") ]] && break; sleep 0.1; done
	verdict "uid 65534 joins root's SO_REUSEPORT group on 127.0.0.1:$P_RP" -- \
		in_c1 "${NOB[@]}" $PY "$A" reuseport "$SOCK" ep-dyn "$P_RP"
	verdict "uid 65534 binds a client socket of ep-dyn to 127.0.0.1:$P_RP with SO_REUSEPORT itself" -- \
		in_c1 "${NOB[@]}" $PY "$A" rebind "$SOCK" ep-dyn 127.0.0.1 "$P_RP" reuseport
	verdict "uid 0 without capabilities binds a client socket of ep-dyn to 127.0.0.1:$P_RP with SO_REUSEPORT itself" -- \
		in_c1 setpriv --reuid=0 --regid=0 --clear-groups --inh-caps=-all --ambient-caps=-all --bounding-set=-all -- $PY "$A" rebind "$SOCK" ep-dyn 127.0.0.1 "$P_RP" reuseport
	kill "$RP_PID" 2>/dev/null
	P_RB=$(free_port)
	verdict "uid 65534 binds a client socket of ep-dyn to 0.0.0.0:$P_RB and listens" -- \
		in_c1 "${NOB[@]}" $PY "$A" rebind "$SOCK" ep-dyn 0.0.0.0 "$P_RB"
	# The same option on an endpoint that opts in is served (and shown by ep show).
	g -n "$C1" ep add ep-rp type ipv4 addr 127.0.0.1 port dynamic reuseport
	[[ $(g -n "$C1" ep show ep-rp) == "ep-rp type ipv4 addr 127.0.0.1 port dynamic reuseport" ]] &&
		pass "ep show prints flag reuseport" || fail "ep show ep-rp: $(g -n "$C1" ep show ep-rp 2>&1)"
	out=$(in_c1 "${NOB[@]}" $PY "$A" reuseport "$SOCK" ep-rp "$(free_port)" 2>&1)
	[[ $out == GRANTED* ]] && pass "with flag reuseport, SO_REUSEPORT is served: ${out#GRANTED: }" ||
		fail "flag reuseport did not allow SO_REUSEPORT: $out"
	normal "attack 4"
fi

# ---------------------------------------------------------------------------
if want 5; then
	section "5. unread batch replies pile up host sockets"
	verdict "20 connections x 40 unread GRAFT_OP_SOCKETS (quota 256 a namespace, +1 a further connection)" -- \
		in_c1 "${NOB[@]}" timeout 60 $PY "$A" pile "$SOCK" ep-dyn 20 40 276
	normal "attack 5"
fi

# ---------------------------------------------------------------------------
if want 6; then
	section "6. unix endpoints: a probe that hangs, a symlinked directory"
	in_c1 "${NOB[@]}" $PY "$A" unix-hang "$SOCK" ep-hang "$TMP/u6/hang.sock" 6 >"$TMP/r6.out" 2>&1 &
	ATT=$!
	PIDS+=($ATT)
	for _ in $(seq 50); do grep -q SENT "$TMP/r6.out" 2>/dev/null && break; sleep 0.1; done
	sleep 0.3
	normal "attack 6a (a listener that never accepts, backlog full)"
	wait "$ATT"

	# A stale root socket in a root directory; the attacker's directory on the
	# endpoint's path becomes a symlink to it.
	$PY -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$TMP/victim/app.sock"
	before=$(stat -c %i "$TMP/victim/app.sock")
	verdict "ep-sym with $TMP/u6/d -> $TMP/victim" -- \
		in_c1 "${NOB[@]}" $PY "$A" unix-symlink "$SOCK" ep-sym "$TMP/u6/d" "$TMP/victim"
	[[ $(stat -c %i "$TMP/victim/app.sock" 2>/dev/null) == "$before" ]] &&
		pass "root's $TMP/victim/app.sock is untouched" ||
		fail "root's $TMP/victim/app.sock was replaced or removed"
	normal "attack 6b"
fi

# ---------------------------------------------------------------------------
if want 7; then
	section "7. what a grafted socket reaches beyond its endpoint"
	ABS=graft-sec-$$
	bg $PY -c 'import socket, sys, time
a = socket.socket(socket.AF_UNIX); a.bind("\0" + sys.argv[1]); a.listen(8)
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind("\0" + sys.argv[1] + "-dgram")
time.sleep(60)' "$ABS"
	sleep 0.3
	verdict "uid 65534 in $C1 connects to the host's abstract @$ABS through ep-abs" -- \
		in_c1 "${NOB[@]}" $PY "$A" abstract "$SOCK" ep-abs "$ABS"
	verdict "CAP_NET_ADMIN-only client takes gsecd0 down in ep-t's target" -- \
		in_c1 setpriv --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin \
		--bounding-set=-all,+net_admin --reuid=$NOBODY --regid=$NOBODY --clear-groups -- \
		$PY "$A" ioctl-ifdown "$SOCK" ep-t gsecd0
	[[ $(ip -n "$T1" -o link show gsecd0) == *",UP"* ]] && pass "gsecd0 in $T1 is still up" ||
		{ fail "gsecd0 in $T1 was taken down"; ip -n "$T1" link set gsecd0 up; }
	normal "attack 7"
fi

# ---------------------------------------------------------------------------
if want 8; then
	section "8. one uid's connections evict everyone else's (broker --max 48)"
	rm -f "$TMP/att/r8" "$TMP/att/r8.go" "$TMP/att/r8.att" "$TMP/att/r8.stop"
	in_c1 timeout 40 $PY "$A" victim-conn "$SOCK" ep-dyn "$TMP/att/r8" "$TMP/att/r8.go" >"$TMP/r8.out" 2>&1 &
	VIC=$!
	PIDS+=($VIC)
	wait_file "$TMP/att/r8" 10 || true
	in_c1 "${NOB[@]}" timeout 40 $PY "$A" evict "$SOCK" ep-dyn 100 "$TMP/att/r8.att" "$TMP/att/r8.stop" \
		>"$TMP/r8.att.out" 2>&1 &
	ATT=$!
	PIDS+=($ATT)
	wait_file "$TMP/att/r8.att" 20 || true
	echo go >"$TMP/att/r8.go"
	wait "$VIC"
	rc=$?
	echo stop >"$TMP/att/r8.stop"
	wait "$ATT"
	line=$(tail -1 "$TMP/r8.out")
	echo "attacker (uid 65534): $(tail -1 "$TMP/r8.att.out")"
	((rc == 0)) && pass "root's idle connection survives 100 connections of uid 65534: $line" ||
		fail "eviction: $line"
	normal "attack 8"
fi

# ---------------------------------------------------------------------------
if want 10; then
	section "10. a reply larger than net.core.wmem_max"
	NSW=gsecw-$$
	EXTRA_NS+=("$NSW")
	ip netns add "$NSW"
	{
		printf 'namespaces:\n  %s:\n    endpoints:\n' "$NSW"
		for j in $(seq 2000); do printf '      big-%d: {type: ipv4, addr: 127.0.0.1, port: %d}\n' "$j" $((30000 + j)); done
	} >"$TMP/big.yaml"
	g apply -f "$TMP/big.yaml" >/dev/null || fail "apply of 2000 endpoints"
	# A small wmem_max (the kernel refuses 4096): a reply of 2000 endpoints (~150 KB) is far larger.
	WMEM_MAX=$(sysctl -n net.core.wmem_max)
	sysctl -qw net.core.wmem_max=8192 || fail "cannot set net.core.wmem_max"
	n=$(g -n "$NSW" ep show 2>"$TMP/big.err" | grep -c '^big-')
	sysctl -qw net.core.wmem_max="$WMEM_MAX"
	WMEM_MAX=
	((n == 2000)) && pass "ep show lists all 2000 endpoints with wmem_max 8192" ||
		fail "ep show with wmem_max 8192 listed $n of 2000: $(cat "$TMP/big.err")"
	ip netns del "$NSW"
fi

# ---------------------------------------------------------------------------
if want 12; then
	section "12. libgraft: a descriptor reused during the round trip, fork"
	P_L=$(free_port)
	bg $PY -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
conns = []
t = time.time() + 60
while time.time() < t:
    c, _ = s.accept(); conns.append(c)' "$P_L"
	for _ in $(seq 50); do [[ -n $(ss -Hltn "sport = :$P_L") ]] && break; sleep 0.1; done
	install -d -o $NOBODY "$TMP/u12"
	rm -f "$TMP/att/r12"
	in_c1 "${NOB[@]}" env GRAFT_POOL=0 "$GRAFT" --backend broker run -e 127.0.0.1/32=ep-dyn -- \
		$PY "$A" dup3-race "$SOCK" "$TMP/att/r12" "$P_L" "$TMP/u12/file" >"$TMP/r12.out" 2>&1 &
	ATT=$!
	PIDS+=($ATT)
	wait_file "$TMP/att/r12.start" 10 || true
	kill -STOP "$BROKER_PID"
	wait_file "$TMP/att/r12" 10 || true
	kill -CONT "$BROKER_PID"
	wait "$ATT"
	rc=$?
	line=$(tail -1 "$TMP/r12.out")
	((rc == 0)) && pass "dup3 after a concurrent close+open: $line" || fail "dup3 race: $line"
	verdict "fork() after another thread grafted (broker connection and stock)" -- \
		in_c1 "${NOB[@]}" "$GRAFT" --backend broker run -e 127.0.0.1/32=ep-dyn -- \
		$PY "$A" fork-leak "$SOCK" "$P_L"
	normal "attack 12"
fi

# ---------------------------------------------------------------------------
if want 13; then
	section "13. a process name carrying terminal escapes, printed by graft inspect"
	# comm: set title, bell, clear screen (15 bytes at most).
	bg ip netns exec "$C1" "${NOB[@]}" $PY -c 'import time
open("/proc/self/comm", "w").write("\x1b]0;pwn\x07\x1b[2J")
time.sleep(30)'
	ATT=$!
	for _ in $(seq 50); do [[ $(cat "/proc/$ATT/comm" 2>/dev/null) == $'\e'* ]] && break; sleep 0.1; done
	out=$("$GRAFT" --backend broker -n "$C1" inspect --all 2>&1)
	if [[ $out == *$'\e'* || $out == *$'\a'* ]]; then
		fail "inspect printed the attacker's escape bytes"
	elif [[ $out == *"$ATT \\x1b]0;pwn\\x07\\x1b[2J"* ]]; then
		pass "inspect shows the name escaped: $(grep -o "$ATT [^ ,]*" <<<"$out" | head -1)"
	else
		fail "inspect did not list the attacker's process: $out"
	fi
	kill "$ATT" 2>/dev/null
fi

# ---------------------------------------------------------------------------
section "leak check"
kill "$BROKER_PID" 2>/dev/null
for _ in $(seq 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$BROKER_PID" 2>/dev/null; then
	fail "the broker did not stop within 5 s of SIGTERM"
	kill -9 "$BROKER_PID"
fi
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
PIDS=()
left=$(pgrep -f "$TMP" || true)
[[ -z $left ]] && pass "no process of this suite is left" || fail "processes left: $left"
for ns in "$C1" "$T1"; do ip netns del "$ns"; done
left=$(ip netns list | grep -E "^gsec[a-z0-9]*-$$"'( |$)' || true)
[[ -z $left ]] && pass "no namespace of this suite is left" || fail "namespaces left: $left"
[[ ! -e $SOCK ]] && pass "broker socket removed" || fail "$SOCK left behind"
# Its bind guard (BPF links on its cgroup) went with it: the kernel's own rule again.
out=$($PY -c 'import socket
s = socket.socket(); s.setsockopt(socket.IPPROTO_IP, 24, 1); s.bind(("127.0.0.1", 0))
s.bind(("127.0.0.1", 0)); print("moved")' 2>&1)
[[ $out == moved ]] && pass "the broker's bind guard is gone with it" ||
	fail "a socket bound without a port still cannot be bound again after the broker stopped ($out; another graft daemon running?)"
((VERBOSE)) && sed 's/^/  broker: /' "$TMP/broker.log"

printf '\n%d passed, %d failed\n' "$npass" "$nfail"
((nfail == 0))
