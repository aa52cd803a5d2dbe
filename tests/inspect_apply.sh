#!/usr/bin/env bash
# `graft inspect`, `graft apply` and `graft export` against a real broker and
# real namespaces (broker backend).
#
#   +-----------------------------+            +-------------------------------+
#   | netns $C1 (lo only)         |  grafted   | host netns (this shell's)     |
#   |  endpoints from $TMP/c1.yaml| ---------> |  127.0.0.1:$P_IN  (ep-in)     |
#   |  srv.py    listens  ep-in   |  sockets   |  $TMP/app.sock    (ep-app)    |
#   |  http.server listens ep-app |            |  127.0.0.1:$P_HOST  host srv  |
#   |  cli.py    connects ep-out  |            |  host client -> ep-in         |
#   +-----------------------------+            +-------------------------------+
#   | netns $C2: the bad file's target; must stay empty                        |
#   | netns $NSB-0..99: the 100 x 10 scale run                                 |
#   +--------------------------------------------------------------------------+
#
# Runs the commands as "$GRAFT inspect|apply|export" (GRAFT defaults to
# .tools/bin/graft). Options: --quick skips the 100 x 10 scale run. Traffic
# goes only to loopback. Everything the suite creates is removed at exit, and
# checked to be gone (tests/lib.sh).
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0
SCALE_NS=${SCALE_NS:-100}
SCALE_EP=${SCALE_EP:-10}
while (($#)); do
	case $1 in
	--quick) QUICK=1; shift ;;
	*) echo "usage: $0 [--quick]" >&2; exit 2 ;;
	esac
done

source tests/lib.sh
lib_init inspect
C1=gic1-$$
C2=gic2-$$
NSB=gib$$-
export GRAFT_SOCKET=$TMP/graft.sock
export DENO_DIR=${DENO_DIR:-$ROOT/.tools/deno-dir}

# gi: the inspect/apply/export commands.
gi() { "$GRAFT" --backend broker "$@"; }

# json_check FILE PYTHON-EXPR [ARGS...]: evaluate an assertion on the JSON in FILE (as `r`).
json_check() {
	local file=$1 expr=$2
	shift 2
	python3 - "$file" "$expr" "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
args = sys.argv[3:]
ok = eval(sys.argv[2])
if not ok:
    print(f"assertion failed: {sys.argv[2]} with args {args}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

# ms COMMAND...: run, print elapsed milliseconds on fd 3, keep the command's status.
ms() {
	local t0 t1 rc
	t0=$(date +%s%N)
	"$@"
	rc=$?
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000)) >&3
	return $rc
}

# ---------------------------------------------------------------------------
section "setup"
netns_new "$C1" && netns_new "$C2" || { fail "ip netns add"; finish; }
start_broker || finish
P_IN=$(free_port)
P_HOST=$(free_port)

cat >"$TMP/c1.yaml" <<EOF
# $C1: one inbound port, outbound connections, a Unix socket on the host
namespaces:
  $C1:
    endpoints:
      ep-in:  {type: ipv4, addr: 127.0.0.1, port: $P_IN}
      ep-out: {type: ipv4, addr: 127.0.0.1, port: dynamic}
      ep-app: {type: unix, path: $TMP/app.sock, netns: host}
EOF

# ---------------------------------------------------------------------------
section "apply"
out=$(gi apply -f "$TMP/c1.yaml" 2>&1)
rc=$?
[[ $rc -eq 0 && $out == *"$C1: ep-in created"* && $out == *"3 created"* ]] &&
	pass "first apply creates 3 endpoints" || fail "first apply (exit $rc): $out"
want=$(printf 'ep-app type unix path %s\nep-in type ipv4 addr 127.0.0.1 port %s\nep-out type ipv4 addr 127.0.0.1 port dynamic' "$TMP/app.sock" "$P_IN")
out=$("$GRAFT" --backend broker -n "$C1" ep show)
[[ $out == "$want" ]] && pass "ep show agrees with the file" || fail "ep show after apply: $out"
out=$(gi apply -f "$TMP/c1.yaml" 2>&1)
rc=$?
[[ $rc -eq 0 && $out == "unchanged (3 endpoints in 1 namespace)" ]] &&
	pass "second apply: $out" || fail "second apply (exit $rc): $out"

section "a file with one bad entry among good ones"
cat >"$TMP/bad.yaml" <<EOF
namespaces:
  $C2:
    endpoints:
      ok-1: {type: ipv4, addr: 127.0.0.1, port: 7001}
      ok-2: {type: unix, path: /run/ok2.sock}
      bad-1: {type: ipv4, addr: 127.0.0.1, port: 99999}
      ok-3: {type: ipv6, addr: "::1", port: dynamic}
  $C1:
    endpoints:
      ep-in:  {type: ipv4, addr: 127.0.0.1, port: $P_IN}
      ep-new: {type: ipv4, addr: 127.0.0.1, port: 7002}
EOF
out=$(gi apply -f "$TMP/bad.yaml" 2>&1 >/dev/null)
rc=$?
lines=$(printf '%s' "$out" | grep -c '')
[[ $rc -ne 0 && $lines -eq 1 && $out == *"bad.yaml:6:"* && $out == *"bad-1.port"* && $out == *"99999"* ]] &&
	pass "refused, exit $rc: $out" || fail "bad file: wanted exit != 0 naming line 6 and the port, got exit $rc: $out"
[[ -z $("$GRAFT" --backend broker -n "$C2" ep show) ]] && pass "nothing applied to $C2" || fail "$C2 got endpoints"
out=$("$GRAFT" --backend broker -n "$C1" ep show)
[[ $out == "$want" ]] && pass "$C1 untouched" || fail "$C1 changed by a bad file: $out"
printf 'namespaces:\n  no-such-ns-%s:\n    endpoints: {}\n' $$ >"$TMP/missing.yaml"
out=$(gi apply -f "$TMP/missing.yaml" 2>&1 >/dev/null)
rc=$?
[[ $rc -ne 0 && $out == *"missing.yaml:2:"*"not found"* ]] && pass "unknown namespace: $out" || fail "unknown namespace: exit $rc: $out"

section "export, then apply its output"
gi export >"$TMP/export.yaml"
rc=$?
[[ $rc -eq 0 ]] && grep -q "^  $C1:" "$TMP/export.yaml" && grep -q "ep-in: *{type: ipv4, addr: 127.0.0.1, port: $P_IN}" "$TMP/export.yaml" &&
	pass "export lists $C1's endpoints" || fail "export: $(cat "$TMP/export.yaml")"
out=$(gi apply -f "$TMP/export.yaml" 2>&1)
[[ $out == "unchanged ("* ]] && pass "apply of the export: $out" || fail "apply of the export: $out"
gi -j export >"$TMP/export.json"
out=$(gi apply -f "$TMP/export.json" 2>&1)
[[ $out == "unchanged ("* ]] && pass "apply of export -j (JSON is YAML): $out" || fail "apply of export -j: $out"

section "--prune"
head -5 "$TMP/c1.yaml" >"$TMP/c1-in.yaml" # the header, and ep-in only
out=$(gi apply -f "$TMP/c1-in.yaml" 2>&1)
[[ $out == "unchanged (1 endpoint in 1 namespace)" ]] && pass "without --prune nothing is deleted" || fail "apply subset: $out"
out=$(gi apply -f "$TMP/c1-in.yaml" --prune 2>&1)
[[ $out == *"$C1: ep-app deleted"* && $out == *"$C1: ep-out deleted"* && $out == *"2 deleted"* ]] &&
	pass "--prune deletes ep-app and ep-out" || fail "--prune: $out"
out=$("$GRAFT" --backend broker -n "$C1" ep show)
[[ $out == "ep-in type ipv4 addr 127.0.0.1 port $P_IN" ]] && pass "only ep-in left" || fail "after prune: $out"
out=$(gi apply -f "$TMP/c1.yaml" 2>&1)
[[ $out == *"2 created"* ]] && pass "re-applied the full file" || fail "re-apply: $out"

# ---------------------------------------------------------------------------
section "inspect: grafted server, client and Unix socket in $C1"
cat >"$TMP/srv.py" <<'PY'
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8000)); s.listen(4)
c, _ = s.accept()
got = 0
while got < 100000:
    b = c.recv(65536)
    if not b: break
    got += len(b)
c.sendall(b"x" * 5000)
time.sleep(120)
PY
cat >"$TMP/cli.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"hello from c1\n")
time.sleep(120)
PY
bg "$GRAFT" --backend broker -n "$C1" run -i 0.0.0.0:8000=ep-in -- python3 "$TMP/srv.py"
bg python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", '"$P_HOST"')); s.listen(4)
conns = [s.accept() for _ in range(1)]
time.sleep(120)'
bg "$GRAFT" --backend broker -n "$C1" run -i 0.0.0.0:8080=ep-app -- python3 -m http.server 8080 --directory "$TMP"
listening() { [[ -n $(ss -Hltn "sport = :$1") ]]; }
wait_for 10 listening "$P_IN" || fail "grafted server never listened on 127.0.0.1:$P_IN"
wait_for 10 listening "$P_HOST" || fail "host server never listened"
wait_for 10 test -S "$TMP/app.sock" || fail "grafted http.server never made $TMP/app.sock"
bg "$GRAFT" --backend broker -n "$C1" run -e 0.0.0.0/0=ep-out -- python3 "$TMP/cli.py" "$P_HOST"
bg python3 -c 'import socket, time
s = socket.create_connection(("127.0.0.1", '"$P_IN"'), timeout=5)
s.sendall(b"y" * 100000)
got = 0
while got < 5000: got += len(s.recv(65536))
time.sleep(120)'
estab() { [[ $(ss -Htn state established "( sport = :$P_IN or dport = :$P_IN or sport = :$P_HOST or dport = :$P_HOST )" | wc -l) -ge 4 ]]; }
wait_for 10 estab || fail "connections did not come up: $(ss -Htn "( sport = :$P_IN or dport = :$P_HOST )")"
# pid_in NETNS PATTERN: the process of NETNS whose command line matches.
pid_in() {
	local p
	for p in $(ip netns pids "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "$2" && { echo "$p"; return 0; }
	done
	return 1
}
SRV_PID=$(pid_in "$C1" "python3 $TMP/srv.py") || fail "no srv.py process in $C1"
CLI_PID=$(pid_in "$C1" "python3 $TMP/cli.py") || fail "no cli.py process in $C1"
sleep 0.3 # let the counters settle after the last segment

gi inspect >"$TMP/inspect.txt" 2>&1
rc=$?
gi -j inspect >"$TMP/inspect.json" 2>"$TMP/inspect.err"
rcj=$?
[[ $rc -eq 0 && $rcj -eq 0 ]] && pass "inspect and inspect -j exit 0" || fail "inspect exit $rc/$rcj: $(cat "$TMP/inspect.err")"
wide=$(awk 'length > 80' "$TMP/inspect.txt")
[[ -z $wide ]] && pass "the table fits 80 columns" || fail "lines wider than 80: $wide"
if grep -q "^$C1 (netns" "$TMP/inspect.txt" &&
	grep -Eq "^  $SRV_PID +python3 +ep-in +tcp +LISTEN +host " "$TMP/inspect.txt" &&
	grep -q "local 127.0.0.1:$P_IN  remote \*" "$TMP/inspect.txt"; then
	pass "the table names $C1, python3 pid $SRV_PID, ep-in and host 127.0.0.1:$P_IN"
else
	fail "the table lacks the grafted server:"
	cat "$TMP/inspect.txt"
fi
sed -n "/^$C1 (netns/,/^\$/p" "$TMP/inspect.txt" | sed 's/^/        /'

json_check "$TMP/inspect.json" '[n for n in r["namespaces"] if n["name"] == args[0] and any(p["pid"] == int(args[1]) for p in n["processes"])]' "$C1" "$SRV_PID" &&
	pass "-j: $C1 lists process $SRV_PID" || fail "-j: $C1 or its process missing"
json_check "$TMP/inspect.json" 'sorted(e["name"] for n in r["namespaces"] if n["name"] == args[0] for e in n["endpoints"] if e["source"] == "broker") == ["ep-app", "ep-in", "ep-out"]' "$C1" &&
	pass "-j: $C1 has its three broker endpoints" || fail "-j: endpoints of $C1 wrong"
G='[g for n in r["namespaces"] if n["name"] == args[0] for g in n["grafted"]]'
json_check "$TMP/inspect.json" "any(g['pid'] == int(args[1]) and g['endpoint'] == 'ep-in' and g['state'] == 'LISTEN' and g['local'] == '127.0.0.1:' + args[2] and g['socketNetns'] == 'host' and g['netns'] == args[0] for g in $G)" "$C1" "$SRV_PID" "$P_IN" &&
	pass "-j: listening socket of $SRV_PID, ep-in, lives in host" || fail "-j: grafted listener missing"
json_check "$TMP/inspect.json" "any(g['pid'] == int(args[1]) and g['endpoint'] == 'ep-in' and g['state'] == 'ESTAB' and g['bytesReceived'] == 100000 and g['bytesSent'] == 5000 for g in $G)" "$C1" "$SRV_PID" &&
	pass "-j: accepted connection counts 100000 bytes in, 5000 out" || fail "-j: accepted connection or its counters wrong: $(python3 -c 'import json,sys; print([ (g["state"], g.get("bytesSent"), g.get("bytesReceived")) for n in json.load(open(sys.argv[1]))["namespaces"] for g in n["grafted"] if g["pid"] == int(sys.argv[2])])' "$TMP/inspect.json" "$SRV_PID")"
json_check "$TMP/inspect.json" "any(g['pid'] == int(args[1]) and g['endpoint'] == 'ep-out' and g['state'] == 'ESTAB' and g['remote'] == '127.0.0.1:' + args[2] and g['bytesSent'] == 14 for g in $G)" "$C1" "$CLI_PID" "$P_HOST" &&
	pass "-j: outbound connection of $CLI_PID named ep-out (dynamic port)" || fail "-j: grafted client missing"
json_check "$TMP/inspect.json" "any(g['endpoint'] == 'ep-app' and g['proto'] == 'unix' and g['state'] == 'LISTEN' and g['local'] == args[1] for g in $G)" "$C1" "$TMP/app.sock" &&
	pass "-j: Unix listener named ep-app at $TMP/app.sock" || fail "-j: grafted Unix socket missing"
json_check "$TMP/inspect.json" '[n for n in r["namespaces"] if n["host"] and n["hosted"] >= 4]' &&
	pass "-j: host holds the grafted sockets" || fail "-j: host's hosted count wrong"
json_check "$TMP/inspect.json" 'not [g for n in r["namespaces"] if n["host"] for g in n["grafted"] if g["pid"] == int(args[0])]' "$BROKER_PID" &&
	pass "the broker itself holds no grafted socket" || fail "the broker shows up as a holder"
out=$(gi -n "$C2" inspect)
[[ $out == *"$C2 (netns"* && $out != *"$C1"* ]] && pass "-n $C2 inspect shows $C2 only" || fail "-n inspect: $out"

# ---------------------------------------------------------------------------
if ((QUICK == 0)); then
	section "scale: $SCALE_NS namespaces x $SCALE_EP endpoints"
	t0=$(date +%s%N)
	for ((i = 0; i < SCALE_NS; i++)); do netns_new "$NSB$i" || fail "ip netns add $NSB$i"; done
	t1=$(date +%s%N)
	echo "  (ip netns add x$SCALE_NS: $(((t1 - t0) / 1000000)) ms)"
	{
		echo "namespaces:"
		for ((i = 0; i < SCALE_NS; i++)); do
			printf '  %s:\n    endpoints:\n' "$NSB$i"
			for ((j = 0; j < SCALE_EP; j++)); do
				case $((j % 3)) in
				0) printf '      ep-%d: {type: ipv4, addr: 127.0.0.1, port: %d}\n' "$j" $((20000 + i * SCALE_EP + j)) ;;
				1) printf '      ep-%d: {type: ipv6, addr: "::1", port: dynamic}\n' "$j" ;;
				2) printf '      ep-%d: {type: unix, path: /run/graft-scale/%d-%d.sock}\n' "$j" "$i" "$j" ;;
				esac
			done
		done
	} >"$TMP/scale.yaml"
	exec 3>"$TMP/ms"
	out=$(ms gi apply -f "$TMP/scale.yaml" 2>&1)
	t_apply=$(tail -1 "$TMP/ms")
	want_n=$((SCALE_NS * SCALE_EP))
	[[ $out == *"applied: $want_n created"* ]] && pass "apply created $want_n endpoints in $t_apply ms" || fail "scale apply: $(tail -2 <<<"$out")"
	out=$(ms gi apply -f "$TMP/scale.yaml" 2>&1)
	t_apply2=$(tail -1 "$TMP/ms")
	[[ $out == "unchanged ($want_n endpoints in $SCALE_NS namespaces)" ]] && pass "second apply unchanged in $t_apply2 ms" || fail "scale re-apply: $out"
	# Interactive means: inspecting 100 namespaces costs a small multiple of starting graft at all.
	# Paired, three times each, so a loaded machine slows both sides alike.
	r_inspect=() r_start=()
	for _ in 1 2 3; do
		ms gi inspect >"$TMP/scale.txt" 2>&1
		r_inspect+=("$(tail -1 "$TMP/ms")")
		ms gi version >/dev/null 2>&1
		r_start+=("$(tail -1 "$TMP/ms")")
	done
	t_inspect=$(printf '%s\n' "${r_inspect[@]}" | sort -n | sed -n 2p)
	t_start=$(printf '%s\n' "${r_start[@]}" | sort -n | sed -n 2p)
	ms gi -j inspect >"$TMP/scale.json" 2>&1
	t_json=$(tail -1 "$TMP/ms")
	ms gi export >"$TMP/scale-export.yaml" 2>&1
	t_export=$(tail -1 "$TMP/ms")
	exec 3>&-
	internal=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["elapsedMs"])' "$TMP/scale.json")
	json_check "$TMP/scale.json" 'sum(len(n["endpoints"]) for n in r["namespaces"] if n["name"].startswith(args[0])) == int(args[1]) and len([n for n in r["namespaces"] if n["name"].startswith(args[0])]) == int(args[2])' "$NSB" "$want_n" "$SCALE_NS" &&
		pass "inspect -j shows $SCALE_NS namespaces with $want_n endpoints" || { fail "scale inspect -j incomplete"; head -c 3000 "$TMP/scale.json"; }
	[[ -z $(awk 'length > 80' "$TMP/scale.txt") ]] && pass "scale table fits 80 columns ($(wc -l <"$TMP/scale.txt") lines)" || fail "scale table too wide"
	n_exp=$(grep -c '^      ep-' "$TMP/scale-export.yaml")
	((n_exp >= want_n)) && pass "export lists $n_exp endpoints" || { fail "export lists $n_exp endpoints"; head -20 "$TMP/scale-export.yaml"; }
	echo "  timings: apply ${t_apply} ms, re-apply ${t_apply2} ms, inspect ${t_inspect} ms" \
		"(${internal} ms inside, the rest is deno start-up), inspect -j ${t_json} ms, export ${t_export} ms"
	((t_inspect <= 10 * t_start)) &&
		pass "inspect of $SCALE_NS x $SCALE_EP stays interactive: ${t_inspect} ms, ${t_start} ms to start graft (limit 10x)" ||
		fail "inspect of $SCALE_NS x $SCALE_EP took ${t_inspect} ms, over 10x the ${t_start} ms graft takes to start"
fi

# ---------------------------------------------------------------------------
finish
