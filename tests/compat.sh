#!/usr/bin/env bash
# Real programs from Debian at their default settings, grafted (tests/e2e.sh
# covers graft's features with small tools; this suite covers what users run).
# Servers are grafted and reached from the host (ingress); clients are grafted
# and reach a server on the host (egress). Each check asserts that the data
# arrived: a response body, a DNS answer, a clone holding the commit.
#
#   +-----------------------------------+          +----------------------------+
#   | netns $C (lo only)                |  grafted | host netns                 |
#   |  redis-server, nginx (2 workers), | -------> |  127.0.0.1:P / [::1]:P     |
#   |  dnsmasq, node cluster, dgram,    |  sockets |  endpoints; redis-cli,     |
#   |  asyncio, postgres    (ingress)   |          |  curl, dig, psql           |
#   |  dig, node dgram, ab, git (egress)| -------> |  dnsmasq, nginx, git http  |
#   +-----------------------------------+          |  on 127.0.0.1 (clients' s.)|
#                                                  +----------------------------+
# Servers listen on their usual ports (6379, 80, 53, 5432...) inside $C; the
# mappings graft them onto free host ports, one IPv4 and one IPv6 endpoint.
# Egress endpoints sit on 127.0.0.2, so a host server's log tells grafted
# clients apart. The servers bind both 0.0.0.0 and [::] (IPV6_V6ONLY) by
# default: with both mappings each socket goes to its own endpoint, with the
# IPv4 mapping only the [::] socket stays inside $C.
#
#   tests/compat.sh [--backend broker|kernel] [--only SECTION,...] [--list]
# A section whose program is not installed is skipped, saying so (exit 77 if
# all are). Traffic goes only to loopback; everything is removed at exit and
# checked to be gone (tests/lib.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
source tests/lib.sh

SECTIONS=(redis nginx dnsmasq dig node-cluster node-dgram asyncio postgres sshd ab git)
usage() {
	echo "usage: $0 [--backend broker|kernel] [--only SECTION[,SECTION]...] [--list]" >&2
	exit 2
}
lib_args compat.sh "$@"
((${#LIB_ARGS[@]} == 0)) || usage

lib_init compat
C=gcm-$$
export GRAFT_SOCKET=$TMP/graft.sock
TOKEN=graft-$RANDOM-$RANDOM
g() { "$GRAFT" --backend "$BACKEND" "$@"; }
# "${GRUN[@]}" RUN-ARGS...: graft run in $C (an array, for bg and timeout).
GRUN=("$GRAFT" --backend "$BACKEND" -n "$C" run)
# in_c CMD...: run CMD inside $C, not grafted.
in_c() { ip netns exec "$C" "$@"; }

# needs PROGRAM...: skip the section (return 1) when a program is missing.
needs() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || [[ -x $p ]] || { skip "$p is not installed (scripts/setup installs it)"; return 1; }
	done
}
# ep4 NAME PORT / ep6 NAME PORT: an endpoint in $C on 127.0.0.1 / ::1.
ep4() { g -n "$C" ep add "$1" type ipv4 addr "${3:-127.0.0.1}" port "$2" || fail "adding endpoint $1"; }
ep6() { g -n "$C" ep add "$1" type ipv6 addr ::1 port "$2" || fail "adding endpoint $1"; }
# inside_c_on PORT: what listens on PORT inside $C (TCP and UDP), one line each.
inside_c_on() { in_c ss -Hlntu "sport = :$1" | awk '{print $1, $5}'; }
# nothing_inside PORT: a check that no socket of PORT stayed in $C.
nothing_inside() {
	local left
	left=$(inside_c_on "$1")
	[[ -z $left ]] && pass "nothing bound to port $1 inside $C" || fail "left inside $C: $left"
}
# ipv4_mapping_only EP PORT HOSTPORT WANT CLIENT... -- SERVER...: SERVER
# listens on 0.0.0.0:PORT and [::]:PORT (V6ONLY) in $C, started with only the
# IPv4 mapping 0.0.0.0:PORT=EP (an endpoint on 127.0.0.1:HOSTPORT). It must
# start and answer: CLIENT, run on the host, prints WANT; and its [::] socket
# must stay inside $C.
ipv4_mapping_only() {
	local ep=$1 port=$2 hp=$3 want=$4 client=() srv out log=$TMP/$1-ipv4-only.log
	shift 4
	while [[ $1 != -- ]]; do client+=("$1"); shift; done
	shift
	bg "${GRUN[@]}" -i "0.0.0.0:$port=$ep" -- "$@" >"$log" 2>&1
	srv=$!
	wait_listen -p "$srv" tcp "$hp" 127.0.0.1
	out=$("${client[@]}" 2>&1)
	[[ $out == "$want" ]] && pass "with only the mapping 0.0.0.0:$port=$ep, it starts and answers on 127.0.0.1:$hp" ||
		fail "with only the mapping 0.0.0.0:$port=$ep: '$out' $(log_of "$log")"
	out=$(inside_c_on "$port")
	[[ $out == "tcp [::]:$port" ]] && pass "and its [::]:$port (V6ONLY) socket stays inside $C" ||
		fail "inside $C on $port: '$out' (wanted the [::] socket only)"
	stop_group "$srv"
}
# log_of FILE: the last lines of a log, on one line, for a failure message.
log_of() { tail -"${2:-5}" "$1" 2>/dev/null | tr "\n" "|"; }

# ---------------------------------------------------------------------------
setup() {
	section "setup ($BACKEND backend)"
	netns_new "$C" || { fail "ip netns add $C"; finish; }
	if [[ $BACKEND == broker ]]; then
		start_broker || finish
	fi
	mkdir -p "$TMP/www"
	echo "$TOKEN" >"$TMP/www/token.txt"
	chmod -R a+rX "$TMP/www"
	g -n "$C" ep add out4 type ipv4 addr 127.0.0.2 port dynamic &&
		pass "egress endpoint out4 (127.0.0.2, port dynamic) in $C" || fail "adding out4"
}

# ---------------------------------------------------------------------------
sec_redis() {
	section "redis-server, default bind \"* -::*\""
	needs redis-server redis-cli || return
	local p out
	p=$(free_port)
	ep4 redis4 "$p"
	ep6 redis6 "$p"
	mkdir -p "$TMP/redis"
	bg "${GRUN[@]}" -i 0.0.0.0:6379=redis4 -i '[::]:6379=redis6' -- redis-server --dir "$TMP/redis" >"$TMP/redis.log" 2>&1
	local srv=$!
	if wait_listen -p "$srv" tcp "$p" 127.0.0.1 && wait_listen -p "$srv" -t 2 tcp "$p" '[::1]'; then
		pass "redis listens on host 127.0.0.1:$p and [::1]:$p"
	else
		fail "redis did not listen on both endpoints: $(log_of "$TMP/redis.log")"
	fi
	out=$(timeout 30 redis-cli -h 127.0.0.1 -p "$p" SET greeting "$TOKEN" 2>&1)
	[[ $out == OK ]] && pass "host redis-cli SET over 127.0.0.1:$p" || fail "SET over IPv4: $out"
	out=$(timeout 30 redis-cli -h ::1 -p "$p" GET greeting 2>&1)
	[[ $out == "$TOKEN" ]] && pass "host redis-cli GET over [::1]:$p returns the value" || fail "GET over IPv6: $out"
	nothing_inside 6379
	stop_group "$srv"

	# Only an IPv4 mapping: the [::] (V6ONLY) socket stays inside, the server runs.
	ipv4_mapping_only redis4 6379 "$p" PONG timeout 30 redis-cli -h 127.0.0.1 -p "$p" PING \
		-- redis-server --dir "$TMP/redis"
}

# nginx_conf DIR: Debian's default site (listen 80 + listen [::]:80), 2 workers,
# everything written under DIR. Extra server-level lines on stdin.
nginx_conf() {
	local d=$1
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 768; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    server {
$(cat)
        root $TMP/www;
    }
}
EOF
}
# nginx_cmd DIR: the command line of the nginx of DIR, in the foreground, as containers run it.
nginx_cmd() { NGINX=(nginx -p "$1" -e "$1/error.log" -c "$1/nginx.conf" -g 'daemon off;'); }
# nginx_workers DIR: how many worker processes the nginx of DIR runs.
nginx_workers() {
	local master
	master=$(cat "$1/nginx.pid" 2>/dev/null) || { echo 0; return; }
	pgrep -P "$master" -f 'nginx: worker process' | wc -l
}

sec_nginx() {
	section "nginx: listen 80 and listen [::]:80, 2 workers"
	needs nginx curl || return
	local p4 p6 out n ok=0
	p4=$(free_port)
	p6=$(free_port)
	ep4 nginx4 "$p4"
	ep6 nginx6 "$p6"
	nginx_conf "$TMP/nginx" <<'EOF'
        listen 80 default_server;
        listen [::]:80 default_server;
EOF
	nginx_cmd "$TMP/nginx"
	bg "${GRUN[@]}" -i 0.0.0.0:80=nginx4 -i '[::]:80=nginx6' -- "${NGINX[@]}" >"$TMP/nginx.log" 2>&1
	local srv=$!
	wait_listen -p "$srv" tcp "$p4" && wait_listen -p "$srv" -t 2 tcp "$p6" ||
		fail "nginx did not listen on both endpoints: $(log_of "$TMP/nginx.log") $(log_of "$TMP/nginx/error.log")"
	wait_for 5 test "$(nginx_workers "$TMP/nginx")" -eq 2
	n=$(nginx_workers "$TMP/nginx")
	((n == 2)) && pass "nginx runs 2 workers" || fail "nginx runs $n workers"
	out=$(curl -s --max-time 5 "http://127.0.0.1:$p4/token.txt")
	[[ $out == "$TOKEN" ]] && pass "host curl 127.0.0.1:$p4 got the page" || fail "nginx over IPv4: '$out'"
	out=$(curl -s --max-time 5 -g "http://[::1]:$p6/token.txt")
	[[ $out == "$TOKEN" ]] && pass "host curl [::1]:$p6 got the page" || fail "nginx over IPv6: '$out'"
	for _ in $(seq 20); do
		[[ $(curl -s --max-time 5 "http://127.0.0.1:$p4/token.txt") == "$TOKEN" ]] && ok=$((ok + 1))
	done
	((ok == 20)) && pass "20 more requests all answered" || fail "$ok of 20 requests answered"
	nothing_inside 80
	stop_group "$srv"
}

sec_dnsmasq() {
	section "dnsmasq (wildcard mode) queried by dig over UDP and TCP"
	needs dnsmasq dig || return
	local p4 p6 out
	p4=$(free_port)
	p6=$(free_port)
	ep4 dns4 "$p4"
	ep6 dns6 "$p6"
	bg "${GRUN[@]}" -i 0.0.0.0:53=dns4 -i '[::]:53=dns6' -- dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--pid-file="$TMP/dnsmasq.pid" --no-resolv --no-hosts --address=/graft.test/198.18.0.7 >"$TMP/dnsmasq.log" 2>&1
	local srv=$!
	wait_listen -p "$srv" udp "$p4" && wait_listen -p "$srv" tcp "$p4" && wait_listen -p "$srv" -t 2 udp "$p6" ||
		fail "dnsmasq did not bind its endpoints: $(log_of "$TMP/dnsmasq.log")"
	local where proto
	for where in "127.0.0.1 $p4" "::1 $p6"; do
		for proto in +notcp +tcp; do
			set -- $where
			out=$(timeout 10 dig @"$1" -p "$2" "$proto" +short +tries=1 +time=3 graft.test A 2>&1)
			[[ $out == 198.18.0.7 ]] && pass "dig @$1 -p $2 $proto: graft.test is 198.18.0.7" ||
				fail "dig @$1 -p $2 $proto: '$out'"
		done
	done
	nothing_inside 53
	stop_group "$srv"
}

sec_dig() {
	section "dig as a grafted client (UDP and TCP) of a DNS server on the host"
	needs dnsmasq dig || return
	local p out proto rc
	p=$(free_port)
	bg dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file="$TMP/dnsmasq-host.pid" --no-resolv --no-hosts \
		--listen-address=127.0.0.1 --bind-interfaces --port="$p" --address=/egress.test/198.18.0.9 \
		--user=root --log-queries --log-facility="$TMP/dnsmasq-host.log" >/dev/null 2>&1
	local srv=$!
	wait_listen -p "$srv" udp "$p" 127.0.0.1 || fail "host dnsmasq did not start"
	for proto in +notcp +tcp; do
		out=$(timeout 120 "${GRUN[@]}" -e 127.0.0.0/8=out4 -- dig @127.0.0.1 -p "$p" "$proto" +short +tries=1 +time=3 egress.test A 2>&1)
		rc=$?
		[[ $out == 198.18.0.9 ]] && pass "grafted dig $proto got the answer: egress.test is 198.18.0.9" ||
			fail "grafted dig $proto: '$out' (exit $rc)"
	done
	out=$(grep -c 'query\[A\] egress.test from 127.0.0.2' "$TMP/dnsmasq-host.log" 2>/dev/null)
	[[ $out == 2 ]] && pass "the host server saw both queries come from 127.0.0.2 (out4)" ||
		fail "queries from 127.0.0.2 in the host server's log: $out: $(grep 'query\[' "$TMP/dnsmasq-host.log" | tr '\n' '|')"
	out=$(in_c timeout 10 dig @127.0.0.1 -p "$p" +short +tries=1 +time=2 egress.test A 2>&1)
	[[ $out != 198.18.0.9 ]] && pass "the same dig, not grafted, gets no answer" || fail "ungrafted dig reached the host"
	stop_group "$srv"
}

sec_node_cluster() {
	section "Node cluster: 2 workers sharing listen(8000)"
	needs node curl || return
	local p out pids
	p=$(free_port)
	ep4 cluster4 "$p"
	bg "${GRUN[@]}" -i 0.0.0.0:8000=cluster4 -- node "$TOOLS/node_cluster.js" 8000 "$TOKEN" 120 >"$TMP/cluster.log" 2>&1
	local srv=$!
	wait_listen -p "$srv" -t 60 tcp "$p" || fail "the cluster did not listen on 127.0.0.1:$p: $(log_of "$TMP/cluster.log")"
	wait_for 10 test "$(grep -c listening "$TMP/cluster.log")" -ge 2
	out=$(grep listening "$TMP/cluster.log" | awk '{print $4, $5}' | sort -u)
	[[ $(grep -c listening "$TMP/cluster.log") == 2 && $out == ":: 8000" ]] &&
		pass "both workers listen and see the address they asked for (:: 8000)" ||
		fail "workers: $(log_of "$TMP/cluster.log" 20)"
	pids=$(for _ in $(seq 8); do curl -s --max-time 5 "http://127.0.0.1:$p/"; done | awk -v t="$TOKEN" '$3 == t {print $2}')
	[[ $(wc -l <<<"$pids") == 8 && $(sort -u <<<"$pids" | wc -l) == 2 ]] &&
		pass "8 requests from the host answered by 2 different workers" ||
		fail "answers from workers: $(tr '\n' ' ' <<<"$pids") $(log_of "$TMP/cluster.log")"
	nothing_inside 8000
	stop_group "$srv"
}

sec_node_dgram() {
	section "Node dgram, both ways"
	needs node || return
	local p pp out rc
	p=$(free_port)
	pp=$(free_port)
	ep4 dgram4 "$p"
	bg "${GRUN[@]}" -i 0.0.0.0:9000=dgram4 -- node "$TOOLS/node_dgram.js" server 9000 "$TOKEN" >"$TMP/dgram.log" 2>&1
	local srv=$!
	wait_listen -p "$srv" -t 60 udp "$p" || fail "the dgram server did not bind 127.0.0.1:$p: $(log_of "$TMP/dgram.log")"
	out=$("$PY" "$TOOLS/client.py" udp 127.0.0.1 "$p" ping 2>&1)
	[[ $out == "dgram $TOKEN ping" ]] && pass "host datagram answered by the grafted dgram server" || fail "dgram server: '$out'"
	stop_group "$srv"
	bg "$PY" "$TOOLS/peer_server.py" udp 127.0.0.1 "$pp" 60 >/dev/null
	wait_listen udp "$pp"
	out=$(timeout 120 "${GRUN[@]}" -e 127.0.0.0/8=out4 -- node "$TOOLS/node_dgram.js" client 127.0.0.1 "$pp" "$TOKEN" 2>&1)
	rc=$?
	[[ $out == "peer 127.0.0.2 "*" $TOKEN" ]] && pass "grafted dgram send() (no bind) reached the host from 127.0.0.2" ||
		fail "dgram client: '$out' (exit $rc)"
}

sec_asyncio() {
	section "Python asyncio.start_server(port=8000)"
	local p4 p6 out
	p4=$(free_port)
	p6=$(free_port)
	ep4 aio4 "$p4"
	ep6 aio6 "$p6"
	bg "${GRUN[@]}" -i 0.0.0.0:8000=aio4 -i '[::]:8000=aio6' -- "$PY" "$TOOLS/asyncio_server.py" 8000 "$TOKEN" >"$TMP/aio.log" 2>&1
	local srv=$!
	wait_listen -p "$srv" tcp "$p4" && wait_listen -p "$srv" -t 2 tcp "$p6" || fail "asyncio did not listen on both endpoints: $(log_of "$TMP/aio.log")"
	out=$("$PY" "$TOOLS/client.py" tcp 127.0.0.1 "$p4" 2>&1)
	[[ $out == "asyncio $TOKEN" ]] && pass "host client over 127.0.0.1:$p4 greeted" || fail "asyncio over IPv4: '$out'"
	out=$("$PY" "$TOOLS/client.py" tcp ::1 "$p6" 2>&1)
	[[ $out == "asyncio $TOKEN" ]] && pass "host client over [::1]:$p6 greeted" || fail "asyncio over IPv6: '$out'"
	out=$(grep listening "$TMP/aio.log")
	[[ $out == "listening 0.0.0.0 8000, :: 8000" ]] && pass "getsockname() shows what it bound: 0.0.0.0 8000, :: 8000" ||
		fail "the program sees: '$out'"
	nothing_inside 8000
	stop_group "$srv"

	ipv4_mapping_only aio4 8000 "$p4" "asyncio $TOKEN" "$PY" "$TOOLS/client.py" tcp 127.0.0.1 "$p4" \
		-- "$PY" "$TOOLS/asyncio_server.py" 8000 "$TOKEN"
}

sec_postgres() {
	section "PostgreSQL, listen_addresses = '*'"
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	needs "$bin/initdb" "$bin/postgres" psql || return
	id postgres >/dev/null 2>&1 || { skip "no user postgres"; return; }
	local p4 p6 out rc as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
	p4=$(free_port)
	p6=$(free_port)
	ep4 pg4 "$p4"
	ep6 pg6 "$p6"
	mkdir -p "$TMP/pg" && chown postgres: "$TMP/pg"
	if ! (cd "$TMP/pg" && "${as_pg[@]}" "$bin/initdb" -D "$TMP/pg/data" -U postgres >"$TMP/initdb.log" 2>&1); then
		fail "initdb: $(log_of "$TMP/initdb.log")"
		return
	fi
	bg "${GRUN[@]}" -i 0.0.0.0:5432=pg4 -i '[::]:5432=pg6' -- "${as_pg[@]}" "$bin/postgres" -D "$TMP/pg/data" \
		-c "listen_addresses=*" -k "$TMP/pg" >"$TMP/pg.log" 2>&1
	local srv=$!
	wait_listen -p "$srv" -t 60 tcp "$p4" && wait_listen -p "$srv" -t 2 tcp "$p6" || fail "postgres did not listen on both endpoints: $(log_of "$TMP/pg.log")"
	out=$(timeout 60 psql -h 127.0.0.1 -p "$p4" -U postgres -Atc "select 'v4 $TOKEN'" 2>&1)
	rc=$?
	[[ $out == "v4 $TOKEN" ]] && pass "host psql over 127.0.0.1:$p4 ran a query" || fail "psql over IPv4: '$out' (exit $rc)"
	out=$(timeout 60 psql -h ::1 -p "$p6" -U postgres -Atc "select 'v6 $TOKEN'" 2>&1)
	rc=$?
	[[ $out == "v6 $TOKEN" ]] && pass "host psql over [::1]:$p6 ran a query" || fail "psql over IPv6: '$out' (exit $rc)"
	nothing_inside 5432
	stop_group "$srv"
}

sec_sshd() {
	section "sshd, default ListenAddress (0.0.0.0 and ::)"
	needs /usr/sbin/sshd ssh-keygen ssh-keyscan || return
	local p4 p6 out key
	p4=$(free_port)
	p6=$(free_port)
	ep4 ssh4 "$p4"
	ep6 ssh6 "$p6"
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh_host_key" || { fail "ssh-keygen"; return; }
	key=$(awk '{print $2}' "$TMP/ssh_host_key.pub")
	# sshd insists on its privilege separation directory.
	if [[ ! -d /run/sshd ]]; then
		mkdir -m 755 /run/sshd && track_file /run/sshd
	fi
	: >"$TMP/sshd_config"
	bg "${GRUN[@]}" -i 0.0.0.0:22=ssh4 -i '[::]:22=ssh6' -- /usr/sbin/sshd -D -e -f "$TMP/sshd_config" -h "$TMP/ssh_host_key" \
		-o PidFile=none >"$TMP/sshd.log" 2>&1
	local srv=$!
	wait_listen -p "$srv" tcp "$p4" && wait_listen -p "$srv" -t 2 tcp "$p6" || fail "sshd did not listen on both endpoints: $(log_of "$TMP/sshd.log")"
	out=$(timeout 10 ssh-keyscan -T 5 -t ed25519 -p "$p4" 127.0.0.1 2>/dev/null | awk '{print $3}')
	[[ $out == "$key" ]] && pass "ssh-keyscan over 127.0.0.1:$p4 got sshd's host key" || fail "keyscan over IPv4: '$out'"
	out=$(timeout 10 ssh-keyscan -T 5 -t ed25519 -p "$p6" ::1 2>/dev/null | awk '{print $3}')
	[[ $out == "$key" ]] && pass "ssh-keyscan over [::1]:$p6 got sshd's host key" || fail "keyscan over IPv6: '$out'"
	nothing_inside 22
	stop_group "$srv"
}

sec_ab() {
	section "ab (apache2-utils), 100 concurrent connections, grafted, against nginx on the host"
	needs ab nginx || return
	local p out n
	p=$(free_port)
	nginx_conf "$TMP/nginx-host" <<EOF
        listen 127.0.0.1:$p;
EOF
	nginx_cmd "$TMP/nginx-host"
	bg "${NGINX[@]}" >"$TMP/nginx-host.log" 2>&1
	local srv=$!
	wait_listen -p "$srv" tcp "$p" 127.0.0.1 || fail "host nginx did not start: $(log_of "$TMP/nginx-host/error.log")"
	out=$(timeout 180 "${GRUN[@]}" -e 127.0.0.0/8=out4 -- ab -q -n 2000 -c 100 -s 10 "http://127.0.0.1:$p/token.txt" 2>&1)
	if [[ $out == *"Concurrency Level:      100"* && $out == *"Complete requests:      2000"* &&
		$out == *"Failed requests:        0"* && $out == *"Document Length:        $((${#TOKEN} + 1)) bytes"* ]]; then
		pass "2000 requests, 100 at a time, none failed ($(awk '/Requests per second/ {print $4, "req/s"}' <<<"$out"))"
	else
		fail "ab: $(grep -E 'requests|Length|apr_' <<<"$out" | tr -s ' ' | tr '\n' '|')"
	fi
	n=$(grep -c '^127\.0\.0\.2 .*"GET /token.txt HTTP/1.0" 200' "$TMP/nginx-host/access.log" 2>/dev/null)
	[[ $n == 2000 ]] && pass "the host server logged 2000 requests from 127.0.0.2 (out4)" ||
		fail "$n requests from 127.0.0.2 in the host's access log"
	stop_group "$srv"
}

sec_git() {
	section "git clone over HTTP (smart protocol), grafted"
	needs git || return
	local p head out
	p=$(free_port)
	local gitc=(git -c user.name=graft -c user.email=graft@example.invalid -c init.defaultBranch=main -c protocol.version=2)
	mkdir -p "$TMP/git/src" && echo "$TOKEN" >"$TMP/git/src/token.txt"
	(cd "$TMP/git/src" && "${gitc[@]}" init -q && "${gitc[@]}" add token.txt && "${gitc[@]}" commit -qm "token $TOKEN") ||
		{ fail "making the repository"; return; }
	head=$(git -C "$TMP/git/src" rev-parse HEAD)
	git clone -q --bare "$TMP/git/src" "$TMP/git/repo.git" || { fail "git clone --bare"; return; }
	bg "$PY" "$TOOLS/git_http.py" 127.0.0.1 "$p" "$TMP/git" "$TMP/git-http.log" 120 >/dev/null 2>&1
	local srv=$!
	wait_listen -p "$srv" tcp "$p" 127.0.0.1 || fail "git http server did not start"
	out=$(timeout 180 "${GRUN[@]}" -e 127.0.0.0/8=out4 -- env HOME="$TMP" GIT_CONFIG_NOSYSTEM=1 \
		git clone -q "http://127.0.0.1:$p/repo.git" "$TMP/git/clone" 2>&1)
	[[ $(git -C "$TMP/git/clone" rev-parse HEAD 2>/dev/null) == "$head" && $(cat "$TMP/git/clone/token.txt" 2>/dev/null) == "$TOKEN" ]] &&
		pass "the clone holds commit ${head:0:12} and its file" || fail "git clone: $out"
	grep -q '^127\.0\.0\.2 POST /repo.git/git-upload-pack 200' "$TMP/git-http.log" 2>/dev/null &&
		pass "the pack was fetched from 127.0.0.2 (out4) with the smart protocol" ||
		fail "no smart-protocol fetch from 127.0.0.2 in: $(log_of "$TMP/git-http.log")"
	stop_group "$srv"
}

setup
NPASS_SETUP=$npass
for s in "${SECTIONS[@]}"; do [[ " ${ONLY[*]} " == *" $s "* ]] && "sec_${s//-/_}"; done
# Only skips (no program installed): the suite as a whole is skipped.
((nfail == 0 && nskip > 0 && npass == NPASS_SETUP)) && FINISH_RC=77
finish "$BACKEND backend"
