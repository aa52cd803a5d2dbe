#!/usr/bin/env bash
# Containers: a namespace's default mappings (graft map), the CNI plugin
# driven as a runtime drives it, and the OCI hook under podman and runc.
#   tests/containers.sh                 every section
#   tests/containers.sh --only cni      one section (map, cni, podman, runc, runc-seccomp, docker)
#
#   +-------------------------------+  grafted   +----------------------------+
#   | netns / container (lo only)   | ---------> | host netns                 |
#   |  server: binds 0.0.0.0:80     |  sockets   |  127.0.0.1:$HOSTPORT       |
#   |  client: connects 127.0.0.1:P |            |  host server on 127.0.0.1:P|
#   +-------------------------------+            +----------------------------+
#
# The programs in the containers are started by the runtime with only
# LD_PRELOAD and GRAFT_SOCKET: their mappings come from the namespace
# (annotations, CNI portMappings), not from graft run. Traffic goes only to
# loopback. Everything created is removed by the EXIT trap and checked at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ONLY=
while (($#)); do
	case $1 in
	--only) ONLY=$2; shift 2 ;;
	*) echo "usage: $0 [--only map|cni|podman|runc|runc-seccomp|docker]" >&2; exit 2 ;;
	esac
done

GRAFT=${GRAFT:-$ROOT/.tools/bin/graft}
LIB=$ROOT/preload/build/libgraft.so
TMP=$(mktemp -d /tmp/graft-ctr.XXXXXX)
chmod 755 "$TMP"
mkdir -p "$TMP/run" && chmod 755 "$TMP/run"
export GRAFT_SOCKET=$TMP/run/graft.sock
export GRAFT_ATTACH_DIR=$TMP/attach
export GRAFT_GC_MS=500
NS=gct-$$
PIDS=()
CTRS=()
BROKER_PID=
DOCKERD_PID=
g() { "$GRAFT" --backend broker "$@"; }

npass=0 nfail=0 nskip=0
pass() { npass=$((npass + 1)); printf '  ok    %s\n' "$*"; }
fail() { nfail=$((nfail + 1)); printf '  FAIL  %s\n' "$*"; }
skip() { nskip=$((nskip + 1)); printf '  SKIP  %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
want() { [[ -z $ONLY || $ONLY == "$1" ]]; }
# needs PROGRAM...: true when every PROGRAM is installed, else a skip saying which is not.
needs() {
	local p
	for p in "$@"; do command -v "$p" >/dev/null || { skip "$p is not installed"; return 1; }; done
}

cleanup() {
	set +e
	for c in "${CTRS[@]}"; do
		case $c in
		podman:*) podman rm -f -t 0 "${c#podman:}" >/dev/null 2>&1 ;;
		runc:*) runc kill "${c#runc:}" KILL >/dev/null 2>&1; sleep 0.2; runc delete -f "${c#runc:}" >/dev/null 2>&1 ;;
		esac
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	if [[ -n $DOCKERD_PID ]]; then
		DOCKER_HOST=unix://$TMP/docker/docker.sock docker rm -f "gw-$$" "gh-$$" >/dev/null 2>&1
		kill "$DOCKERD_PID" 2>/dev/null && wait "$DOCKERD_PID" 2>/dev/null
	fi
	grep -o " $TMP/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	[[ -n $BROKER_PID ]] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
	podman rmi -f "localhost/graft-test-$$" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
bg() { "$@" & PIDS+=($!); }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# until N CMD...: retry CMD every 0.2 s for up to N seconds.
until_ok() {
	local n=$(($1 * 5)); shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done
	return 1
}
body_is() { [[ $(curl -s -m 2 "$1") == "$2" ]]; }

# A host server answering every connection with one line.
host_server() { bg socat "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr,fork" "SYSTEM:echo $2"; }

# The namespace's broker state as JSON (endpoints and mappings of every namespace).
status_has_ns() { # INO: true when the broker still holds namespace INO
	python3 - "$GRAFT_SOCKET" "$1" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
body = b"{}"
s.send(struct.pack("<IHHII", 0x54465247, 1, 5, 16 + len(body), 1) + body)
r = s.recv(1 << 22)
st = json.loads(r[16:])
sys.exit(0 if any(n["ino"] == int(sys.argv[2]) for n in st["namespaces"]) else 1)
PY
}

# ns_released INO: within 10 s the broker holds nothing for namespace INO.
ns_released() {
	for _ in $(seq 50); do status_has_ns "$1" || return 0; sleep 0.2; done
	return 1
}

mkdir -p "$TMP/www" && echo "hello from the container side" >"$TMP/www/index.html"
"$GRAFT" daemon --socket "$GRAFT_SOCKET" 2>"$TMP/broker.log" &
BROKER_PID=$!
until_ok 10 test -S "$GRAFT_SOCKET" || { echo "broker did not start"; cat "$TMP/broker.log"; exit 1; }
ip netns add "$NS" && ip -n "$NS" link set lo up

# ---------------------------------------------------------------------------
if want map; then
	section "graft map: a namespace's default mappings"
	P=$(free_port)
	g -n "$NS" ep add web type ipv4 addr 127.0.0.1 port "$P" || fail "ep add"
	g -n "$NS" map add -i 0.0.0.0:80=web -i '[::0]:80=web' && pass "map add two ingress mappings" || fail "map add"
	[[ $(g -n "$NS" map show) == $'-i 0.0.0.0:80=web\n-i [::]:80=web' ]] && pass "map show prints them, canonical" || fail "map show: $(g -n "$NS" map show)"
	out=$(g -n "$NS" map add -i 0.0.0.0:79-81=web 2>&1); rc=$?
	[[ $rc == 1 && $out == *overlaps* && $(wc -l <<<"$out") == 1 ]] && pass "an overlapping range is refused in one line" || fail "overlap: rc=$rc $out"
	out=$(g -n "$NS" map add -i 0.0.0.0/8=web 2>&1); rc=$?
	[[ $rc == 2 && $(wc -l <<<"$out") == 1 ]] && pass "a bad mapping is a usage error" || fail "bad mapping: rc=$rc $out"
	out=$(g -n "$NS" map add -e 0.0.0.0/0 2>&1); rc=$?
	[[ $rc == 2 ]] && pass "a mapping without endpoint is a usage error" || fail "rc=$rc $out"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$GRAFT" --backend broker map add -e 0.0.0.0/0=web 2>&1); rc=$?
	[[ $rc != 0 && ( $out == *root* || $out == *CAP_NET_ADMIN* || $out == *ermission* ) ]] && pass "an unprivileged user cannot add mappings" || fail "unprivileged map add: rc=$rc $out"
	[[ $(g inspect) == *"map -i [::]:80=web"* ]] && pass "inspect shows the namespace's mappings" || fail "inspect: $(g inspect)"
	g -j inspect | python3 -c 'import json,sys; r=json.load(sys.stdin); assert any(n["maps"]["ingress"]==["0.0.0.0:80=web","[::]:80=web"] for n in r["namespaces"])' &&
		pass "inspect -j carries them" || fail "inspect -j has no maps"
	g export >"$TMP/export.yaml"
	grep -q -- '- "\[::\]:80=web"' "$TMP/export.yaml" && pass "export writes the namespace's mappings" || fail "export: $(cat "$TMP/export.yaml")"
	out=$(g apply -f "$TMP/export.yaml")
	[[ $out == unchanged* && $out == *"2 mappings"* ]] && pass "apply of the export: unchanged" || fail "apply: $out"
	(cd "$TMP/www" && exec timeout 30 "$GRAFT" --backend broker -n "$NS" run -- python3 -m http.server 80 >/dev/null 2>&1) &
	PIDS+=($!)
	until_ok 15 body_is "http://127.0.0.1:$P/" "hello from the container side" &&
		pass "graft run with no -i grafts by the namespace's mappings" || fail "server not reachable on $P"
	kill "${PIDS[-1]}" 2>/dev/null
	g -n "$NS" map del -i 0.0.0.0:80=web -i '[::]:80=web' && [[ -z $(g -n "$NS" map show) ]] && pass "map del removes them" || fail "map del"
	out=$(g -n "$NS" map del -i 0.0.0.0:80=web 2>&1); rc=$?
	[[ $rc == 1 && $out == *"no ingress mapping"* ]] && pass "deleting a missing mapping says so" || fail "rc=$rc $out"
	g -n "$NS" ep del web
fi

# ---------------------------------------------------------------------------
# cni CMD CONFIG [VAR=VALUE...]: run the plugin as a runtime does.
cni() {
	local cmd=$1 conf=$2; shift 2
	env CNI_COMMAND="$cmd" CNI_CONTAINERID=ctr$$ CNI_NETNS="/run/netns/$NS" CNI_IFNAME=eth0 \
		CNI_PATH=/usr/lib/cni "$@" "$GRAFT" cni <<<"$conf"
}
cni_code() { python3 -c 'import json,sys; print(json.load(sys.stdin).get("code",""))'; }

if want cni; then
	section "graft cni: the CNI plugin, driven as a runtime drives it"
	HP=$(free_port)
	EP=$(free_port)
	host_server "$EP" "hello from the host"
	conf=$(printf '{"cniVersion":"1.1.0","name":"gnet","type":"graft","egress":{"ipv4":"127.0.0.1"},
	  "runtimeConfig":{"portMappings":[{"hostPort":%d,"containerPort":80,"protocol":"tcp"}]},
	  "prevResult":{"cniVersion":"1.1.0","interfaces":[{"name":"lo"}],"ips":[]}}' "$HP")
	out=$(cni ADD "$conf"); rc=$?
	[[ $rc == 0 ]] && python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["cniVersion"]=="1.1.0" and r["interfaces"][0]["name"]=="lo"' "$out" &&
		pass "ADD passes the previous result on" || fail "ADD: rc=$rc $out"
	[[ $(g -n "$NS" ep show) == *"pm-$HP type ipv4 addr 0.0.0.0 port $HP"* ]] && pass "ADD defined the port mapping's endpoint" || fail "ep show: $(g -n "$NS" ep show)"
	[[ $(g -n "$NS" map show) == *"-i 0.0.0.0:80=pm-$HP"*"-e 0.0.0.0/0=egress4"* ]] && pass "ADD defined the ingress and egress mappings" || fail "map show: $(g -n "$NS" map show)"
	# The program starts as a runtime starts it: preload and broker socket, no mappings.
	(cd "$TMP/www" && exec ip netns exec "$NS" env LD_PRELOAD="$LIB" GRAFT_SOCKET="$GRAFT_SOCKET" timeout 30 python3 -m http.server 80 >/dev/null 2>&1) &
	PIDS+=($!)
	until_ok 15 body_is "http://127.0.0.1:$HP/" "hello from the container side" &&
		pass "a server in the namespace is reached on hostPort $HP" || fail "hostPort $HP not reachable"
	out=$(ip netns exec "$NS" env LD_PRELOAD="$LIB" GRAFT_SOCKET="$GRAFT_SOCKET" timeout 30 socat -T 5 - "TCP:127.0.0.1:$EP" </dev/null 2>&1)
	[[ $out == "hello from the host" ]] && pass "a client in the namespace reaches a host server through egress" || fail "egress: $out"
	kill "${PIDS[-1]}" 2>/dev/null
	cni CHECK "$conf" >/dev/null && pass "CHECK passes" || fail "CHECK failed"
	g -n "$NS" ep del egress6
	out=$(cni CHECK "$conf"); rc=$?
	[[ $rc != 0 && $out == *egress6* ]] && pass "CHECK fails when an endpoint went missing" || fail "CHECK after damage: rc=$rc $out"
	cni DEL "$conf" >/dev/null && [[ -z $(g -n "$NS" ep show) && -z $(g -n "$NS" map show) ]] &&
		pass "DEL removes every endpoint and mapping" || fail "DEL left: $(g -n "$NS" ep show) $(g -n "$NS" map show)"
	cni DEL "$conf" >/dev/null && pass "DEL again succeeds (idempotent)" || fail "second DEL failed"
	[[ -z $(ls "$GRAFT_ATTACH_DIR" 2>/dev/null) ]] && pass "no attachment record remains" || fail "records: $(ls "$GRAFT_ATTACH_DIR")"
	out=$(CNI_COMMAND=VERSION "$GRAFT" cni </dev/null)
	[[ $out == *'"supportedVersions":["0.4.0","1.0.0","1.1.0"]'* ]] && pass "VERSION lists 0.4.0, 1.0.0, 1.1.0" || fail "VERSION: $out"
	[[ $(cni ADD '{"cniVersion":"9.9.9","name":"x","type":"graft"}' | cni_code) == 1 ]] && pass "an unknown cniVersion: code 1" || fail "version code"
	[[ $(cni ADD '{"cniVersion":' | cni_code) == 6 ]] && pass "undecodable configuration: code 6" || fail "decode code"
	[[ $(cni ADD '{"cniVersion":"1.0.0","name":"x","type":"graft","runtimeConfig":{"portMappings":[{"hostPort":0,"containerPort":80}]}}' | cni_code) == 7 ]] &&
		pass "a bad port mapping: code 7" || fail "config code"
	[[ $(cni ADD '{"cniVersion":"1.0.0","name":"x","type":"graft"}' CNI_NETNS=/run/netns/none-$$ | cni_code) == 3 ]] &&
		pass "a missing network namespace: code 3" || fail "netns code"
	[[ $(cni ADD '{"cniVersion":"1.0.0","name":"x","type":"graft"}' CNI_NETNS= | cni_code) == 4 ]] &&
		pass "no CNI_NETNS: code 4" || fail "env code"
	[[ -z $(g -n "$NS" ep show) ]] && pass "failed ADDs left nothing behind" || fail "left: $(g -n "$NS" ep show)"
	cni STATUS '{"cniVersion":"1.1.0","name":"gnet","type":"graft","backend":"broker"}' >/dev/null && pass "STATUS: ready with a broker" || fail "STATUS with broker"
	[[ $(cni STATUS '{"cniVersion":"1.1.0","name":"gnet","type":"graft","backend":"broker"}' GRAFT_SOCKET="$TMP/none.sock" | cni_code) == 50 ]] &&
		pass "STATUS without a broker: code 50" || fail "STATUS code"
	cni ADD "$conf" >/dev/null
	cni GC '{"cniVersion":"1.1.0","name":"gnet","type":"graft","cni.dev/valid-attachments":[]}' >/dev/null
	[[ -z $(g -n "$NS" ep show) && -z $(ls "$GRAFT_ATTACH_DIR" 2>/dev/null) ]] && pass "GC removes an attachment the runtime no longer lists" || fail "GC left: $(g -n "$NS" ep show)"
	"$GRAFT" cni install "$TMP/cnibin" --conf-dir "$TMP/cniconf" >/dev/null &&
		[[ -x $TMP/cnibin/graft && $(CNI_COMMAND=VERSION "$TMP/cnibin/graft" </dev/null) == *supportedVersions* ]] &&
		python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert [p["type"] for p in c["plugins"]]==["loopback","graft"]' "$TMP/cniconf/90-graft.conflist" &&
		pass "cni install: an executable plugin and a conflist chaining loopback, graft" || fail "cni install"
fi

# ---------------------------------------------------------------------------
# A root filesystem from local files: busybox (static), socat and its libraries.
make_rootfs() {
	local r=$1
	mkdir -p "$r"/{bin,graft,run/graft,proc,sys,dev,tmp,etc}
	cp /bin/busybox "$r/bin/" && ln -sf busybox "$r/bin/sh"
	cp "$(command -v socat)" "$r/bin/"
	for l in $(ldd "$(command -v socat)" "$LIB" | awk '/=> \// {print $3} /^\t\// {print $1}'); do
		mkdir -p "$r$(dirname "$l")" && cp -L "$l" "$r$l"
	done
}

# runc_bundle DIR HOSTPORT [OPTIONS] -- ARGS...: a runc bundle in DIR, its root
# from make_rootfs, its config from `runc spec` made a grafted container's by
# tests/tools/oci_config.py (which reads OPTIONS) running ARGS.
runc_bundle() {
	local b=$1 hp=$2
	shift 2
	make_rootfs "$b/rootfs"
	(cd "$b" && runc spec) && python3 "$ROOT/tests/tools/oci_config.py" "$b/config.json" "$GRAFT" "$hp" "$@"
}
# runc_gone ID: kill the container with SIGKILL, wait for it to stop, delete it.
runc_gone() {
	runc kill "$1" KILL >/dev/null 2>&1
	until_ok 5 sh -c "runc state $1 2>/dev/null | grep -q stopped"
	runc delete "$1" >/dev/null 2>&1
}
# no_records: the check that poststop left no attachment record.
no_records() {
	[[ -z $(ls "$GRAFT_ATTACH_DIR" 2>/dev/null) ]] && pass "poststop removed the attachment record" || fail "records: $(ls "$GRAFT_ATTACH_DIR")"
}

# hook_json DIR: the shipped hooks.d files, pointed at this checkout's graft and
# this suite's broker (a runtime passes hooks no environment of its own).
hook_json() {
	mkdir -p "$1"
	for stage in createRuntime poststop; do
		python3 - "packaging/hooks.d/graft-$stage.json" "$1/graft-$stage.json" "$GRAFT" <<'PY'
import json, os, sys
src, dst, graft = sys.argv[1:]
h = json.load(open(src))
h["hook"]["path"] = graft
h["hook"]["env"] = [f"{k}={os.environ[k]}" for k in ("GRAFT_SOCKET", "GRAFT_ATTACH_DIR", "PATH")]
json.dump(h, open(dst, "w"))
PY
	done
}

if want podman && section "podman: a container's endpoints from annotations, by the OCI hook" && needs podman runc; then
	make_rootfs "$TMP/rootfs"
	tar -C "$TMP/rootfs" -cf "$TMP/rootfs.tar" . && podman import -q "$TMP/rootfs.tar" "localhost/graft-test-$$" >/dev/null
	hook_json "$TMP/hooks"
	HP=$(free_port)
	EP=$(free_port)
	host_server "$EP" "hello from the host"
	name=graft-$$
	podman --hooks-dir "$TMP/hooks" run -d --name "$name" --runtime runc --network none \
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
		--annotation "graft.endpoints=web type ipv4 addr 127.0.0.1 port $HP; out type ipv4 addr 127.0.0.1 port dynamic" \
		--annotation "graft.ingress=0.0.0.0:80=web" --annotation "graft.egress=0.0.0.0/0=out" \
		-v "$LIB:/graft/libgraft.so:ro" -v "$TMP/run:/run/graft" \
		-e LD_PRELOAD=/graft/libgraft.so -e GRAFT_SOCKET=/run/graft/graft.sock \
		"localhost/graft-test-$$" /bin/socat TCP-LISTEN:80,fork,reuseaddr "SYSTEM:echo hello from podman" >/dev/null 2>"$TMP/podman.err"
	CTRS+=("podman:$name")
	pid=$(podman inspect -f '{{.State.Pid}}' "$name" 2>/dev/null)
	ino=$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)
	[[ -n $ino && $(g -n "$pid" ep show 2>/dev/null) == *"web type ipv4 addr 127.0.0.1 port $HP"* ]] &&
		pass "the hook defined the annotated endpoints in the container's namespace" || fail "endpoints: $(g -n "$pid" ep show 2>&1) $(cat "$TMP/podman.err")"
	out=$(until_ok 15 sh -c "socat -T 3 - TCP:127.0.0.1:$HP </dev/null | grep -q 'hello from podman'" && echo ok)
	[[ $out == ok ]] && pass "the container's server is reached from the host on $HP" || fail "server on $HP not reachable"
	out=$(podman exec "$name" /bin/socat -T 20 - "TCP:127.0.0.1:$EP" </dev/null 2>&1)
	[[ $out == "hello from the host" ]] && pass "a client in the container reaches a host server through egress" || fail "egress: $out"
	status_has_ns "$ino" && pass "the broker holds the container's namespace while it runs" || fail "broker does not hold ns $ino"
	podman rm -f -t 0 "$name" >/dev/null 2>&1
	if ns_released "$ino"; then pass "removing the container removed its endpoints"; else fail "the broker still holds the container's namespace"; fi
	no_records
fi

# ---------------------------------------------------------------------------
if want runc && section "runc: a bundle built here, with the hook in its config" && needs runc; then
	B=$TMP/bundle
	HP=$(free_port)
	runc_bundle "$B" "$HP" --preload "$TMP/run" -- /bin/socat TCP-LISTEN:80,fork,reuseaddr "SYSTEM:echo hello from runc"
	cp "$LIB" "$B/rootfs/graft/libgraft.so"
	id=graft-$$
	runc run -d --bundle "$B" "$id" >/dev/null 2>"$TMP/runc.err" </dev/null
	CTRS+=("runc:$id")
	pid=$(runc state "$id" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	ino=$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)
	[[ -n $ino ]] && pass "runc started the bundle (pid $pid)" || fail "runc run: $(cat "$TMP/runc.err")"
	out=$(until_ok 15 sh -c "socat -T 3 - TCP:127.0.0.1:$HP </dev/null | grep -q 'hello from runc'" && echo ok)
	[[ $out == ok ]] && pass "the bundle's server is reached from the host on $HP" || fail "server on $HP not reachable"
	status_has_ns "$ino" && pass "the broker holds the bundle's namespace while it runs" || fail "broker does not hold ns $ino"
	runc_gone "$id"
	if ns_released "$ino"; then pass "after an abrupt kill and delete, nothing of it remains"; else fail "the broker still holds the bundle's namespace after a KILL"; fi
	no_records
fi


# ---------------------------------------------------------------------------
# The same with a static program (busybox httpd): no preload; runc hands the
# seccomp listener to the broker (listenerPath) with no mappings of its own, so
# the supervisor uses the namespace's, defined by the hook from annotations.
if want runc-seccomp && section "runc + seccomp agent: a static server grafted by its namespace's mappings" && needs runc; then
	B=$TMP/sbundle
	HP=$(free_port)
	runc_bundle "$B" "$HP" --seccomp-listener "${GRAFT_SOCKET%.sock}.seccomp.sock" -- /bin/busybox httpd -f -p 80 -h /www
	mkdir -p "$B/rootfs/www" && echo "hello from a static server" >"$B/rootfs/www/index.html"
	id=graft-s$$
	runc run -d --bundle "$B" "$id" >/dev/null 2>"$TMP/runcs.err" </dev/null
	CTRS+=("runc:$id")
	until_ok 20 body_is "http://127.0.0.1:$HP/" "hello from a static server" &&
		pass "busybox httpd (static) in the bundle is reached on the host on $HP" ||
		fail "static server on $HP not reachable: $(cat "$TMP/runcs.err") $(grep -i seccomp "$TMP/broker.log" | tail -2)"
	runc_gone "$id"
	no_records
fi

# ---------------------------------------------------------------------------
# dockerd by hand: its own data root under this suite's directory, no bridge and
# no iptables (so the host's FORWARD policy and NAT chains stay as they are;
# checked below), the vfs driver (no overlay mounts to clean up).
if want docker && section "docker: the --network none recipe with namespace mappings" && needs dockerd; then
	fw_before=$( (iptables -S; nft list ruleset) 2>/dev/null | md5sum)
	D=$TMP/docker
	mkdir -p "$D"
	dockerd --data-root "$D/root" --exec-root "$D/exec" -H "unix://$D/docker.sock" --pidfile "$D/pid" \
		--iptables=false --ip6tables=false --bridge=none --storage-driver vfs >"$D/log" 2>&1 &
	DOCKERD_PID=$!
	export DOCKER_HOST=unix://$D/docker.sock
	if ! until_ok 60 docker version >/dev/null 2>&1; then
		fail "dockerd did not start: $(tail -3 "$D/log")"
	else
		make_rootfs "$TMP/drootfs"
		tar -C "$TMP/drootfs" -cf "$TMP/drootfs.tar" . && docker import "$TMP/drootfs.tar" graft-test:1 >/dev/null
		HP=$(free_port)
		docker run -d --name "gh-$$" --network none graft-test:1 /bin/busybox sleep 600 >/dev/null
		pid=$(docker inspect -f '{{.State.Pid}}' "gh-$$")
		g -n "$pid" ep add web type ipv4 addr 127.0.0.1 port "$HP" && g -n "$pid" map add -i 0.0.0.0:80=web &&
			pass "endpoint and mapping defined in the holder's namespace" || fail "ep/map add in docker ns"
		docker run -d --name "gw-$$" --network "container:gh-$$" -v "$LIB:/graft/libgraft.so:ro" -v "$TMP/run:/run/graft" \
			-e LD_PRELOAD=/graft/libgraft.so -e GRAFT_SOCKET=/run/graft/graft.sock \
			graft-test:1 /bin/socat TCP-LISTEN:80,fork,reuseaddr "SYSTEM:echo hello from docker" >/dev/null
		out=$(until_ok 15 sh -c "socat -T 3 - TCP:127.0.0.1:$HP </dev/null | grep -q 'hello from docker'" && echo ok)
		[[ $out == ok ]] && pass "the container's server is reached from the host on $HP" || fail "server on $HP not reachable: $(docker logs "gw-$$" 2>&1 | tail -2)"
		ino=$(stat -L -c %i "/proc/$pid/ns/net")
		docker rm -f "gw-$$" "gh-$$" >/dev/null 2>&1
		if [[ -n $ino ]] && ns_released "$ino"; then pass "removing the containers removed their endpoints"; else fail "the broker still holds the docker namespace"; fi
	fi
	kill "$DOCKERD_PID" 2>/dev/null; wait "$DOCKERD_PID" 2>/dev/null
	DOCKERD_PID=
	unset DOCKER_HOST
	[[ $( (iptables -S; nft list ruleset) 2>/dev/null | md5sum) == "$fw_before" ]] &&
		pass "the host's firewall (FORWARD policy, NAT chains) is as it was" || fail "dockerd changed the firewall"
fi

# ---------------------------------------------------------------------------
section "nothing left behind"
cleanup
trap - EXIT
left=$(pgrep -f "graft-ctr\.|gct-$$" | grep -v "^$$\$" || true)
[[ -z $left && ! -e $TMP && ! -e /run/netns/$NS ]] && pass "no process, namespace or file of this suite remains" || fail "left: $left"

printf '\n%d passed, %d failed, %d skipped\n' "$npass" "$nfail" "$nskip"
((nfail == 0))
