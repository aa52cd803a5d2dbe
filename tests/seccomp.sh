#!/usr/bin/env bash
# The seccomp engine (graft run --mode seccomp, the broker as supervisor, the
# OCI listenerPath): real programs LD_PRELOAD cannot reach, grafted.
#
#   +----------------------------------+          +------------------------------+
#   | netns $C1 (lo only)              |          | host netns                   |
#   |  gotool (static Go) server/client|  grafted |  curl, python3 servers,      |
#   |  caddy, busybox httpd, setuid    | -------> |  iperf3 client, bench rr     |
#   |  client, iperf3 -s, rr server    |  sockets |                              |
#   +----------------------------------+          +------------------------------+
#   | netns $C3: runc container (bundle built here), listener -> the broker   |
#   +--------------------------------------------------------------------------+
#
# Each check asserts that the data arrived. Attacks (an unprivileged or
# capability-less listener, forged handovers, callers dying mid-call, a
# thread racing the sockaddr) are performed as the attacker would. Traffic
# goes to loopback only; the EXIT trap removes everything, then the suite
# checks nothing of it remains.
set -uo pipefail
cd "$(dirname "$0")/.."
source tests/lib.sh

lib_init seccomp
EXEC=$ROOT/exec/build/graft-exec
C1=gsc1-$$
C3=gsc3-$$
CTR=graft-sc-$$
export GRAFT_SOCKET=$TMP/graft.sock
SECCOMP_SOCK=$TMP/graft.seccomp.sock
g() { "$GRAFT" --backend broker "$@"; }
at_exit 'runc --root "$TMP/runc" kill "$CTR" KILL; runc --root "$TMP/runc" delete -f "$CTR"'

for tool in go runc curl python3 iperf3 setpriv; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (./scripts/setup installs it)"; exit 77; }
done
[[ -x $EXEC ]] || { echo "FAIL: $EXEC is not built (./scripts/setup)"; exit 1; }

fetch() { curl -s --max-time 5 --retry 3 --retry-connrefused --retry-delay 1 "$@"; }

# ---------------------------------------------------------------------------
section "setup"
netns_new "$C1"
netns_new "$C3"
start_broker -v || exit 1
wait_for 15 test -S "$SECCOMP_SOCK" && pass "and its seccomp socket ($SECCOMP_SOCK)" || {
	fail "broker did not start: $(cat "$TMP/broker.log")"
	exit 1
}
t0=$SECONDS
(cd tests/seccomp && CGO_ENABLED=0 GO111MODULE=off GOCACHE=$ROOT/.tools/go-cache \
	go build -o "$TMP/gotool" gotool.go) && pass "static Go tool built with CGO_ENABLED=0 ($((SECONDS - t0)) s)" || {
	fail "go build"
	exit 1
}
GOTOOL=$TMP/gotool
mkdir -p "$TMP/www" && TOKEN=sc-$RANDOM-$RANDOM && echo "$TOKEN" >"$TMP/www/token.txt"
P_WEB=$(free_port) P_WEB6=$(free_port) P_UDP=$(free_port) P_HOST=$(free_port)
P_CADDY=$(free_port) P_BB=$(free_port) P_IPERF=$(free_port) P_RR=$(free_port) P_RACE=$(free_port)
P_CTR=$(free_port) P_NAMES=$(free_port) P_NAMES2=$(free_port)
# caddy sets SO_REUSEPORT on its listeners: its endpoint opts in with flag reuseport (docs/security.md)
g -n "$C1" ep add web type ipv4 addr 127.0.0.1 port "$P_WEB" &&
	g -n "$C1" ep add web6 type ipv6 addr ::1 port "$P_WEB6" &&
	g -n "$C1" ep add udp type ipv4 addr 127.0.0.1 port "$P_UDP" &&
	g -n "$C1" ep add caddy type ipv4 addr 127.0.0.1 port "$P_CADDY" reuseport &&
	g -n "$C1" ep add bb type ipv4 addr 127.0.0.1 port "$P_BB" &&
	g -n "$C1" ep add iperf type ipv4 addr 127.0.0.1 port "$P_IPERF" &&
	g -n "$C1" ep add rr type ipv4 addr 127.0.0.1 port "$P_RR" &&
	g -n "$C1" ep add out type ipv4 addr 127.0.0.1 port dynamic &&
	g -n "$C1" ep add out2 type ipv4 addr 127.0.0.2 port dynamic &&
	g -n "$C1" ep add names type ipv4 addr 127.0.0.1 port "$P_NAMES" &&
	g -n "$C1" ep add names2 type ipv4 addr 127.0.0.1 port "$P_NAMES2" &&
	g -n "$C1" ep add ugo type unix path "$TMP/go.sock" &&
	g -n "$C1" ep add upy type unix path "$TMP/py.sock" &&
	g -n "$C1" ep add udg type unix path "$TMP/dg.sock" &&
	pass "endpoints in $C1" || fail "adding endpoints"
# The host's web server for the egress tests. `python3 -m http.server` listens
# with a backlog of 5: 100 connections at once overflow it, the kernel drops
# their handshakes' last ACK and the SYN-ACK retransmits (1, 3, 7, 15 s) can
# outlast the Go client's 10 s timeout (seen once in session 9: 1 of 100).
bg python3 -c 'import functools, http.server, sys
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
Server(("127.0.0.1", int(sys.argv[1])), h).serve_forever()' "$P_HOST" "$TMP/www" >/dev/null 2>&1
wait_listen -t 15 tcp "$P_HOST" || fail "host http.server did not start"

# ---------------------------------------------------------------------------
section "which engine: detection before exec"
out=$(g -n "$C1" run --mode preload -- "$GOTOOL" client "http://127.0.0.1:$P_HOST/token.txt" 2>&1 >/dev/null)
[[ $out == *"is a Go program"*"LD_PRELOAD will not graft its sockets; use --mode seccomp"* ]] &&
	pass "--mode preload on a Go binary warns in one line: $(head -1 <<<"$out")" || fail "no warning: $out"
out=$(g -n "$C1" run -- busybox true 2>&1)
[[ $out == *"busybox is statically linked"*"grafting it with seccomp" ]] &&
	pass "auto picks seccomp for static busybox: $out" || fail "busybox: $out"
out=$(g -n "$C1" run -- true 2>&1)
[[ -z $out ]] && pass "auto keeps LD_PRELOAD, silently, for a dynamic program" || fail "true said: $out"
expect_usage=$(g run --mode bogus -- true 2>&1)
[[ $? -eq 2 && $expect_usage == *'unknown mode "bogus"'* ]] && pass "bad --mode -> exit 2: $expect_usage" || fail "bad mode: $expect_usage"

# ---------------------------------------------------------------------------
section "static Go server and client (ingress, egress, UDP, IPv6)"
bg "$GRAFT" --backend broker -n "$C1" run -i 0.0.0.0:80=web -- "$GOTOOL" server 0.0.0.0:80 2>"$TMP/gosrv.log"
wait_listen -t 15 tcp "$P_WEB" && out=$(fetch "http://127.0.0.1:$P_WEB/ingress")
[[ ${out:-} == "go-server-ok /ingress" ]] && pass "host curl reached the static Go server in $C1: $out" ||
	fail "Go ingress: ${out:-} $(cat "$TMP/gosrv.log")"
[[ -z $(ip netns exec "$C1" ss -Hltn "sport = :80") ]] && pass "nothing listens in $C1 itself" || fail "port 80 open in $C1"
out=$(GOMAXPROCS=2 g -n "$C1" run -e 0.0.0.0/0=out -- "$GOTOOL" client "http://127.0.0.1:$P_HOST/token.txt" 100 2>"$TMP/gocl.log")
rc=$?
[[ $rc -eq 0 && $out == "$TOKEN" ]] && pass "Go client (GOMAXPROCS=2) fetched the host's token over 100 concurrent grafted connections" ||
	fail "Go egress x100: rc $rc, $out, $(tail -2 "$TMP/gocl.log")"
bg python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1])))
while True:
    d,a=s.recvfrom(2048); s.sendto(b"host-echo "+d,a)' "$P_HOST"
wait_listen -t 15 udp "$P_HOST" || fail "host UDP echo did not start"
out=$(g -n "$C1" run -e 0.0.0.0/0=out -- "$GOTOOL" udpsend "127.0.0.1:$P_HOST" "$TOKEN" 2>/dev/null)
[[ $out == "host-echo $TOKEN" ]] && pass "UDP egress: bind(0.0.0.0:0) then sendto() grafted, host echo came back" || fail "UDP egress: $out"
bg "$GRAFT" --backend broker -n "$C1" run -i 0.0.0.0:53=udp -- "$GOTOOL" udpecho 0.0.0.0:53
wait_listen -t 15 udp "$P_UDP"
out=$(python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(2)
for _ in range(5):
    s.sendto(sys.argv[2].encode(),("127.0.0.1",int(sys.argv[1])))
    try: print(s.recv(2048).decode()); break
    except OSError: pass' "$P_UDP" "$TOKEN")
[[ $out == "echo $TOKEN" ]] && pass "UDP ingress: the Go echo server in $C1 answered on the host port" || fail "UDP ingress: $out"
bg "$GRAFT" --backend broker -n "$C1" run -i "[::]:80=web6" -- "$GOTOOL" server "[::]:80"
wait_listen -t 15 tcp "$P_WEB6" && out=$(fetch -g "http://[::1]:$P_WEB6/v6")
[[ ${out:-} == "go-server-ok /v6" ]] && pass "IPv6 ingress: host curl [::1]:$P_WEB6 reached the Go server" || fail "IPv6: ${out:-}"

# ---------------------------------------------------------------------------
section "what the program sees: getsockname() and Unix endpoints"
bg "$GRAFT" --backend broker -n "$C1" run -i 0.0.0.0:80=names -- "$GOTOOL" server 0.0.0.0:80 2>"$TMP/names.log"
wait_listen -t 15 tcp "$P_NAMES" && out=$(fetch "http://127.0.0.1:$P_NAMES/names")
[[ ${out:-} == "local 127.0.0.1:80 remote 127.0.0.1:"* ]] && grep -q "(bound \[::\]:80)" "$TMP/names.log" &&
	pass "Go server's getsockname() shows what it bound: listener $(grep -o 'bound [^)]*' "$TMP/names.log"), connection $out (host port $P_NAMES)" ||
	fail "program's view: ${out:-} $(cat "$TMP/names.log")"
bg "$GRAFT" --backend broker -n "$C1" run --names host -i 0.0.0.0:80=names2 -- "$GOTOOL" server 0.0.0.0:80 2>"$TMP/names2.log"
wait_listen -t 15 tcp "$P_NAMES2" && out=$(fetch "http://127.0.0.1:$P_NAMES2/names")
[[ ${out:-} == "local 127.0.0.1:$P_NAMES2 remote 127.0.0.1:"* ]] && grep -q "(bound 127.0.0.1:$P_NAMES2)" "$TMP/names2.log" &&
	pass "--names host: the Go server sees the host's port $P_NAMES2: $out" || fail "host view: ${out:-} $(cat "$TMP/names2.log")"
bg "$GRAFT" --backend broker -n "$C1" run -i 0.0.0.0:8080=ugo -- "$GOTOOL" server 0.0.0.0:8080 2>"$TMP/ugo.log"
for _ in $(seq 100); do [[ -S $TMP/go.sock ]] && break; sleep 0.1; done
out=$(curl -s --max-time 5 --unix-socket "$TMP/go.sock" http://graft/names)
[[ $out == "local [::]:8080 remote [::]:0" ]] && pass "Unix endpoint: host curl --unix-socket reached the Go server, which sees INET names: $out" ||
	fail "Go on a Unix endpoint: $out $(cat "$TMP/ugo.log")"
# A blocking accept() (parked in the broker until the connection comes), interrupted
# by signals (each restart is a new notification; the broker drops the old one),
# and getpeername().
bg "$GRAFT" --backend broker -n "$C1" run --mode seccomp -i 127.0.0.1:9000=upy -- /usr/bin/python3 -c 'import socket, signal
signal.signal(signal.SIGUSR1, lambda *a: print("signal", flush=True))
s = socket.socket(); s.bind(("127.0.0.1", 9000)); s.listen(); print("bound", s.getsockname(), flush=True)
c, a = s.accept(); c.sendall(f"peer {a} local {c.getsockname()} getpeername {c.getpeername()}".encode())' >"$TMP/py.out" 2>&1
for _ in $(seq 100); do grep -q bound "$TMP/py.out" && break; sleep 0.1; done
sleep 1
parked_fds=$(ls "/proc/$BROKER_PID/fd" | wc -l)
pypid=$(pgrep -f -n "^/usr/bin/python3 -c import socket, signal")
for _ in 1 2 3 4 5; do [[ -n $pypid ]] && kill -USR1 "$pypid"; sleep 0.3; done
sleep 0.5
after_fds=$(ls "/proc/$BROKER_PID/fd" | wc -l)
[[ $(grep -c signal "$TMP/py.out") -eq 5 && $after_fds -le $parked_fds ]] &&
	pass "5 signals interrupted the parked accept(); the broker kept $after_fds descriptors ($parked_fds before)" ||
	fail "parked accept and signals (pid ${pypid:-none}): $(cat "$TMP/py.out"), fds $parked_fds -> $after_fds"
out=$(python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1]); print(s.recv(200).decode())' "$TMP/py.sock" 2>&1)
[[ $out == "peer ('0.0.0.0', 0) local ('127.0.0.1', 9000) getpeername ('0.0.0.0', 0)" ]] &&
	grep -q "bound ('127.0.0.1', 9000)" "$TMP/py.out" &&
	pass "Unix endpoint: python3's blocking accept() waited in the broker, then saw $out" || fail "python3 on a Unix endpoint: $out $(cat "$TMP/py.out")"
out=$(g -n "$C1" run --mode seccomp -i 0.0.0.0:53=udg -- "$GOTOOL" udpecho 0.0.0.0:53 2>&1)
[[ $out == *"operation not permitted"* && ! -e $TMP/dg.sock ]] &&
	pass "a UDP socket onto a Unix endpoint without flag abstract is refused, as for libgraft: $out" || fail "unix datagram: $out"

# ---------------------------------------------------------------------------
section "Debian's caddy and busybox httpd, a setuid client"
mkdir -p "$TMP/caddy"
bg env HOME="$TMP/caddy" XDG_DATA_HOME="$TMP/caddy" XDG_CONFIG_HOME="$TMP/caddy" \
	"$GRAFT" -n "$C1" run -i 0.0.0.0:80=caddy -- caddy file-server --listen 0.0.0.0:80 --root "$TMP/www" 2>"$TMP/caddy.log"
wait_listen -t 15 tcp "$P_CADDY" && out=$(fetch "http://127.0.0.1:$P_CADDY/token.txt")
[[ ${out:-} == "$TOKEN" ]] && pass "caddy (Go, dynamic) in $C1 served the token on the host port" || fail "caddy: ${out:-} $(tail -2 "$TMP/caddy.log")"
grep -q "grafting it with seccomp" "$TMP/caddy.log" && pass "caddy: auto mode chose seccomp" || fail "caddy mode line missing"
bg "$GRAFT" --backend broker -n "$C1" run -i 0.0.0.0:80=bb -- busybox httpd -f -p 0.0.0.0:80 -h "$TMP/www"
wait_listen -t 15 tcp "$P_BB" && out=$(fetch "http://127.0.0.1:$P_BB/token.txt")
[[ ${out:-} == "$TOKEN" ]] && pass "busybox httpd (static) in $C1 served the token" || fail "busybox httpd: ${out:-}"
cp "$GOTOOL" "$TMP/suid-client" && chmod 4755 "$TMP/suid-client"
out=$(g -n "$C1" run --mode seccomp -e 0.0.0.0/0=out -- setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$TMP/suid-client" client "http://127.0.0.1:$P_HOST/token.txt" 2>"$TMP/suid.log")
[[ $out == "$TOKEN" ]] && grep -q "euid 0" "$TMP/suid.log" &&
	pass "a setuid-root client started by uid 65534 kept euid 0 (filter without no_new_privs) and fetched the token" ||
	fail "setuid client: $out $(cat "$TMP/suid.log")"
cp /usr/bin/curl "$TMP/curl-suid" && chmod 4755 "$TMP/curl-suid"
out=$(g -n "$C1" run -e 0.0.0.0/0=out -- "$TMP/curl-suid" -s --max-time 5 "http://127.0.0.1:$P_HOST/token.txt" 2>"$TMP/suid2.log")
[[ $out == "$TOKEN" ]] && grep -q "set-user-ID program" "$TMP/suid2.log" &&
	pass "auto mode grafted a setuid copy of curl with seccomp: $(head -1 "$TMP/suid2.log")" || fail "setuid curl: $out $(cat "$TMP/suid2.log")"

# ---------------------------------------------------------------------------
section "iperf3 and bench rr in seccomp mode"
bg "$GRAFT" --backend broker -n "$C1" run --mode seccomp -i 0.0.0.0:5201=iperf -- iperf3 -s -1 -p 5201
wait_listen -t 15 tcp "$P_IPERF" && out=$(iperf3 -c 127.0.0.1 -p "$P_IPERF" -t 1 -J 2>/dev/null |
	python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bytes"]))' 2>/dev/null)
[[ ${out:-0} -gt 0 ]] && pass "iperf3 -s grafted by seccomp: host client moved $out bytes in 1 s" || fail "iperf3: ${out:-}"
RR=$ROOT/bench/build/rr
[[ -x $RR ]] || make -s -C bench >/dev/null 2>&1
if [[ -x $RR ]]; then
	bg "$GRAFT" --backend broker -n "$C1" run --mode seccomp -i 0.0.0.0:7000=rr -- "$RR" server -p 7000 -t 60
	wait_listen -t 15 tcp "$P_RR" && out=$("$RR" rr -H 127.0.0.1 -p "$P_RR" -d 1 2>&1)
	[[ $out == *p50_us* ]] && pass "bench rr server grafted by seccomp answered: $(tr '\n' ' ' <<<"$out" | cut -c1-80)" || fail "rr: ${out:-}"
else
	fail "bench/build/rr could not be built"
fi

# ---------------------------------------------------------------------------
section "runc: the broker as the bundle's seccomp agent (listenerPath)"
g -n "$C3" ep add ctr-web type ipv4 addr 127.0.0.1 port "$P_CTR" || fail "adding ctr-web in $C3"
mkdir -p "$TMP/bundle/rootfs" && cp "$GOTOOL" "$TMP/bundle/rootfs/gotool"
(cd "$TMP/bundle" && runc spec) && python3 - "$TMP/bundle/config.json" "/run/netns/$C3" "$SECCOMP_SOCK" <<'PY'
import json, sys
path, netns, sock = sys.argv[1:4]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/gotool", "server", "0.0.0.0:8080"]
c["root"]["readonly"] = True
c["linux"]["namespaces"] = [n if n["type"] != "network" else {"type": "network", "path": netns}
                            for n in c["linux"]["namespaces"]]
c["linux"]["seccomp"] = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "listenerPath": sock,
    "listenerMetadata": "-i 0.0.0.0:8080=ctr-web",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["bind", "connect"], "action": "SCMP_ACT_NOTIFY"}],
}
json.dump(c, open(path, "w"), indent=1)
PY
runc --root "$TMP/runc" run -d --bundle "$TMP/bundle" "$CTR" >"$TMP/runc.log" 2>&1 </dev/null
rc=$?
if [[ $rc -eq 0 ]] && wait_listen -t 15 tcp "$P_CTR"; then
	out=$(fetch "http://127.0.0.1:$P_CTR/from-runc")
	[[ $out == "go-server-ok /from-runc" ]] && pass "runc container's static server reached on the host through ctr-web: $out" ||
		fail "runc: $out"
else
	fail "runc run: rc $rc $(cat "$TMP/runc.log") $(tail -3 "$TMP/broker.log")"
fi
grep -q "supervising $CTR" "$TMP/broker.log" && pass "the broker supervised the listener runc sent (container $CTR)" || fail "no listener from runc in the log"
runc --root "$TMP/runc" kill "$CTR" KILL 2>/dev/null
for _ in $(seq 50); do runc --root "$TMP/runc" state "$CTR" 2>/dev/null | grep -q stopped && break; sleep 0.1; done
runc --root "$TMP/runc" delete -f "$CTR" 2>/dev/null

# ---------------------------------------------------------------------------
section "bad input and attacks"
count_fds() { ls "/proc/$BROKER_PID/fd" | wc -l; }
fds_before=$(count_fds)
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$EXEC" --socket "$SECCOMP_SOCK" --metadata "-i 0.0.0.0:80=web" -- echo RAN 2>&1)
rc=$?
[[ $rc -eq 1 && $out == *"refused: only an administrator"*"uid 65534 is not root"* && $out != *RAN* ]] &&
	pass "a listener from uid 65534 is refused, the program never runs: $out" || fail "unprivileged listener: rc $rc $out"
out=$(setpriv --inh-caps=-all --bounding-set=-all "$EXEC" --socket "$SECCOMP_SOCK" --metadata "" -- echo RAN 2>&1)
rc=$?
[[ $rc -eq 1 && $out == *"lacks CAP_NET_ADMIN"* && $out != *RAN* ]] &&
	pass "a listener from root without capabilities is refused: $out" || fail "capless listener: rc $rc $out"
out=$(python3 tests/seccomp/handover.py "$SECCOMP_SOCK" pipe)
[[ $out == "refused: the descriptor is not a seccomp listener"* ]] && pass "a pipe passed off as a listener: $out" || fail "pipe handover: $out"
out=$(python3 tests/seccomp/handover.py "$SECCOMP_SOCK" garbage)
[[ $out == "refused: the state is not JSON" ]] && pass "bytes that are not JSON: $out" || fail "garbage handover: $out"
out=$("$EXEC" --socket "$SECCOMP_SOCK" --metadata "-i 0.0.0.0:80=no such" -- echo RAN 2>&1)
[[ $? -eq 1 && $out == *refused*"bad mapping"* && $out != *RAN* ]] && pass "bad mappings in the metadata: $out" || fail "bad metadata: $out"
# Callers that die while their call is trapped: a stopped broker, then killed callers.
victims=()
kill -STOP "$BROKER_PID"
for _ in 1 2 3; do
	"$GRAFT" -n "$C1" run --mode seccomp -e 0.0.0.0/0=out -- "$GOTOOL" client "http://127.0.0.1:$P_HOST/token.txt" 20 >/dev/null 2>&1 &
	victims+=($!)
done
sleep 1
kill -CONT "$BROKER_PID"
sleep 0.3
for p in $(ip netns pids "$C1"); do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "gotool client" && kill -9 "$p"; done
for v in "${victims[@]}"; do wait "$v" 2>/dev/null; done
(for _ in $(seq 10); do
	timeout -s KILL 0.$((RANDOM % 9 + 1)) "$GRAFT" -n "$C1" run --mode seccomp -e 0.0.0.0/0=out -- \
		"$GOTOOL" client "http://127.0.0.1:$P_HOST/token.txt" 20 >/dev/null 2>&1
done) 2>/dev/null
for p in $(ip netns pids "$C1"); do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "gotool client" && kill -9 "$p"; done
out=$(g -n "$C1" run -e 0.0.0.0/0=out -- "$GOTOOL" client "http://127.0.0.1:$P_HOST/token.txt" 2>/dev/null)
[[ $out == "$TOKEN" ]] && pass "after 13 callers killed mid-call (3 while the broker was stopped), the broker still grafts" || fail "after kills: $out"
# The TOCTOU race: a thread flips the sockaddr between mapped 127.0.0.3 (nothing
# listens there) and unmapped 127.0.0.1 (the host's peers.py; nothing in $C1).
bg python3 tests/seccomp/peers.py "$P_RACE" "$TMP/peers.txt"
wait_listen -t 15 tcp "$P_RACE"
out=$(g -n "$C1" run --mode seccomp -e 127.0.0.3/32=out2 -- /usr/bin/python3 tests/seccomp/race.py 127.0.0.3 127.0.0.1 "$P_RACE" 300 2>&1)
sleep 0.5
others=$(grep -cv '^127\.0\.0\.2$' "$TMP/peers.txt" 2>/dev/null)
seen=$(grep -c '' "$TMP/peers.txt" 2>/dev/null)
[[ $out == "ok "* && ${others:-1} -eq 0 ]] &&
	pass "racing thread: $out; the host saw $seen connections, every one from the endpoint's 127.0.0.2" ||
	fail "race: $out; peers other than 127.0.0.2: ${others:-?} of ${seen:-?}"
out=$(fetch "http://127.0.0.1:$P_BB/token.txt")
[[ $out == "$TOKEN" ]] && g -n "$C1" ep show >/dev/null && pass "broker still serving after the attacks" || fail "broker after attacks"
# Spare sockets made ahead for the callers' grafts live up to 1 s: a leak outlasts them.
for _ in $(seq 30); do (($(count_fds) <= fds_before + 4)) && break; sleep 0.1; done
fds_after=$(count_fds)
((fds_after <= fds_before + 4)) && pass "broker descriptors stable ($fds_before before the attacks, $fds_after after)" ||
	fail "broker descriptors grew: $fds_before -> $fds_after"
if grep -E "internal error|TypeError|RangeError" "$TMP/broker.log"; then fail "broker logged internal errors"; else
	pass "no internal errors in the broker's log ($(grep -c "; continuing" "$TMP/broker.log") calls let through after a failed step)"
fi

# ---------------------------------------------------------------------------
section "stopping"
# The suite's processes and the broker (SIGTERM: it removes its sockets).
stop_bg
sleep 0.5
left=$(ip netns pids "$C1"; ip netns pids "$C3")
[[ -z $left ]] && pass "no process left in $C1 or $C3" || fail "processes left: $left"
[[ ! -e $SECCOMP_SOCK && ! -e $GRAFT_SOCKET ]] && pass "the broker removed both sockets on exit" || fail "sockets left behind"
runc --root "$TMP/runc" list 2>/dev/null | grep -q "$CTR" && fail "runc container $CTR left" || pass "runc container deleted"
finish seccomp
