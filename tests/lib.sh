# Shared by the shell suites (tests/e2e.sh, tests/inspect_apply.sh,
# tests/compat.sh): check bookkeeping, a registry of everything a suite
# creates, and a leak check at the end.  Sourced (bash), never run.
#
#   source tests/lib.sh
#   lib_args NAME "$@"       # --backend, --only, --list of a suite of SECTIONS
#   lib_init NAME            # TMP, the EXIT trap, the run tag
#   netns_new NS             # an "ip netns" with lo up, removed at exit
#   bg PROGRAM ARGS...       # a background session, its processes killed at exit
#   at_exit CMD, track_file PATH, track_mount DIR   # more to undo at exit
#   start_broker             # graft daemon on $TMP/graft.sock
#   pass/fail/skip TEXT, section TITLE, expect_fail ..., wait_listen ...
#   finish [NOTE]            # cleanup, leak check, "N passed, N failed", exit status
#
# Every process a suite starts carries GRAFT_TEST_RUN=<tag> in its
# environment, every namespace is remembered by inode: `finish` fails the
# suite when any of them, or any registered file, survives the cleanup.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
GRAFT=${GRAFT:-$ROOT/.tools/bin/graft}
TOOLS=$ROOT/tests/tools
PY=/usr/bin/python3 # the system interpreter: quick to start, and others may run it
[[ -x $PY ]] || PY=$(command -v python3)

npass=0
nfail=0
nskip=0
LIB_PIDS=()  # process group leaders started by bg
LIB_NETNS=() # names of namespaces made by netns_new
LIB_NSINO=() # their inodes, to find processes that outlive the name
LIB_FILES=() # paths outside $TMP to remove
LIB_MOUNTS=() # mount points to unmount
LIB_HOOKS=() # commands run first at cleanup, last registered first
BROKER_PID=

pass() { npass=$((npass + 1)); printf '  ok    %s\n' "$*"; }
fail() { nfail=$((nfail + 1)); printf '  FAIL  %s\n' "$*"; }
skip() { nskip=$((nskip + 1)); printf '  SKIP  %s\n' "$*"; }
# section TITLE: a heading; the previous section's duration is printed first.
section() {
	section_end
	printf '\n== %s\n' "$*"
	LIB_SEC_T0=$(date +%s%N)
}
section_end() {
	[[ -n ${LIB_SEC_T0:-} ]] || return 0
	local ms=$((($(date +%s%N) - LIB_SEC_T0) / 1000000))
	printf '  (%d.%d s)\n' $((ms / 1000)) $((ms % 1000 / 100))
	LIB_SEC_T0=
}
# check TEXT CMD...: pass when CMD succeeds.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# lib_args NAME ARGS...: the options of a suite made of SECTIONS (an array
# the suite sets, with a usage function): --backend broker|kernel (BACKEND,
# broker by default), --only SECTION[,SECTION]... (ONLY: every section by
# default) and --list (prints the sections and exits). Other words are left,
# in order, in LIB_ARGS for the suite's own options. Bad values: one line on
# stderr naming the suite, exit 2.
lib_args() {
	local name=$1 o s
	shift
	BACKEND=broker
	ONLY=()
	LIB_ARGS=()
	while (($#)); do
		case $1 in
		--backend) BACKEND=${2:-}; shift 2 || usage ;;
		--backend=*) BACKEND=${1#*=}; shift ;;
		--only) IFS=, read -ra o <<<"${2:-}"; ONLY+=("${o[@]}"); shift 2 || usage ;;
		--only=*) IFS=, read -ra o <<<"${1#*=}"; ONLY+=("${o[@]}"); shift ;;
		--list) printf '%s\n' "${SECTIONS[@]}"; exit 0 ;;
		*) LIB_ARGS+=("$1"); shift ;;
		esac
	done
	[[ $BACKEND == broker || $BACKEND == kernel ]] || { echo "$name: unknown backend \"$BACKEND\" (broker or kernel)" >&2; exit 2; }
	for s in "${ONLY[@]}"; do
		[[ " ${SECTIONS[*]} " == *" $s "* ]] || { echo "$name: no section \"$s\" (see --list)" >&2; exit 2; }
	done
	((${#ONLY[@]})) || ONLY=("${SECTIONS[@]}")
}

# lib_init NAME: a scratch directory $TMP (mode 755: unprivileged clients of
# the suites must reach the broker socket inside it), the tag, the EXIT trap.
lib_init() {
	LIB_NAME=$1
	TMP=$(mktemp -d "/tmp/graft-$1.XXXXXX") || exit 1
	chmod 755 "$TMP"
	export GRAFT_TEST_RUN=$1-$$-$RANDOM$RANDOM
	LIB_T0=$(date +%s%N)
	trap lib_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# at_exit CMD...: run CMD (as one string, eval'd) at cleanup, before processes are killed.
at_exit() { LIB_HOOKS+=("$*"); }
track_file() { LIB_FILES+=("$@"); }
# track_mount DIR: unmount DIR at cleanup (after the processes), and report it if it stays mounted.
track_mount() { LIB_MOUNTS+=("$@"); }

# netns_new NS: create NS with lo up; it is deleted at cleanup.
netns_new() {
	ip netns add "$1" || return 1
	LIB_NETNS+=("$1")
	LIB_NSINO+=("$(stat -L -c %i "/run/netns/$1")")
	ip -n "$1" link set lo up
}

# bg PROGRAM [ARG...]: start PROGRAM in the background in a session and
# process group of its own (no controlling terminal, so it never stops on
# one), so that cleanup reaches every process it forks. Its PID is in $!.
# Shell functions cannot be put there: pass a command line (an array).
bg() {
	if [[ $(type -t "$1") == function ]]; then
		echo "lib.sh: bg needs a program, not the shell function $1" >&2
		return 2
	fi
	setsid "$@" &
	LIB_PIDS+=($!)
}

# stop_group PID: TERM the process group PID leads, KILL it after 5 s.
stop_group() {
	local pid=$1
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 -- "-$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# stop_bg: stop every process group bg started (TERM, KILL after 5 s).
stop_bg() {
	local p
	for p in "${LIB_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
	for p in "${LIB_PIDS[@]}"; do stop_group "$p"; done
	LIB_PIDS=()
}

lib_cleanup() {
	set +e
	local i p
	for ((i = ${#LIB_HOOKS[@]} - 1; i >= 0; i--)); do eval "${LIB_HOOKS[i]}" >/dev/null 2>&1; done
	LIB_HOOKS=()
	stop_bg
	for p in "${LIB_MOUNTS[@]}"; do mountpoint -q "$p" && umount "$p"; done
	for p in "${LIB_NETNS[@]}"; do ip netns del "$p" 2>/dev/null; done
	for p in "${LIB_FILES[@]}"; do rm -rf "$p"; done
	[[ -n ${TMP:-} && -d $TMP ]] && rm -rf "$TMP"
}

lib_on_exit() {
	local rc=$?
	lib_cleanup
	exit $rc
}

# lib_leaks: print one line per thing the suite left behind (nothing when clean).
lib_leaks() {
	local ns
	for ns in "${LIB_NETNS[@]}"; do
		[[ -e /run/netns/$ns ]] && echo "namespace $ns still exists"
	done
	for f in "${LIB_MOUNTS[@]}"; do
		mountpoint -q "$f" && echo "mount $f still mounted"
	done
	for f in "${LIB_FILES[@]}" ${TMP:+"$TMP"}; do
		[[ -e $f ]] && echo "file $f still exists"
	done
	# The scanner must not carry the tag itself; the shell and this subshell do.
	# A namespace's inode is its own only while it lives: once ours are gone, the
	# kernel may give the number to another suite's new namespace, which then
	# has a name in /run/netns (ours no longer do).
	env -u GRAFT_TEST_RUN LIB_NETNS_NAMES="${LIB_NETNS[*]}" "$PY" - "$GRAFT_TEST_RUN" "$$,$BASHPID" "${TMP:-/nonexistent}" "${LIB_NSINO[@]}" <<'PY'
import os, sys
tag, tmp, inodes = sys.argv[1], sys.argv[3], set(sys.argv[4:])
me = {int(p) for p in sys.argv[2].split(",")}
want = ("GRAFT_TEST_RUN=" + tag).encode()
ours = set(os.environ["LIB_NETNS_NAMES"].split())
for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
    try:
        if name not in ours:
            inodes.discard(str(os.stat(f"/run/netns/{name}").st_ino))
    except OSError:
        pass
for d in os.listdir("/proc"):
    if not d.isdigit() or int(d) in me or int(d) == os.getpid():
        continue
    why = []
    try:
        if want in open(f"/proc/{d}/environ", "rb").read().split(b"\0"):
            why.append("started by this suite")
        if str(os.stat(f"/proc/{d}/ns/net").st_ino) in inodes:
            why.append("inside one of its namespaces")
        cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
        if tmp in cmd:
            why.append("names its scratch directory")
    except OSError:
        continue
    if why:
        print(f"process {d} ({cmd[:80]}) {', '.join(why)}")
PY
}

# finish [NOTE]: clean up, check that nothing is left, print the count, exit
# (1 if a check failed, else $FINISH_RC, default 0: a suite sets 77 when it skipped everything).
finish() {
	local note=${1:+ ($1)}
	section "leak check"
	lib_cleanup
	local leaks
	leaks=$(lib_leaks)
	if [[ -z $leaks ]]; then
		pass "no process, namespace or file of this suite is left"
	else
		fail "left behind:"
		sed 's/^/        /' <<<"$leaks"
		# Do not leave them to the next suite either.
		for pid in $(sed -n 's/^process \([0-9]*\) .*/\1/p' <<<"$leaks"); do kill -KILL "$pid" 2>/dev/null; done
	fi
	local ms=$((($(date +%s%N) - LIB_T0) / 1000000))
	printf '\n%d passed, %d failed, %d skipped%s in %d.%d s\n' "$npass" "$nfail" "$nskip" "$note" \
		$((ms / 1000)) $((ms % 1000 / 100))
	trap - EXIT
	((nfail == 0)) || exit 1
	exit "${FINISH_RC:-0}"
}

# free_port: a port free for TCP and UDP on 127.0.0.1 and ::1.
free_port() {
	"$PY" -c 'import socket
for _ in range(200):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    try:
        for fam, kind, host in ((socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
                                (socket.AF_INET6, socket.SOCK_STREAM, "::1"),
                                (socket.AF_INET6, socket.SOCK_DGRAM, "::1")):
            socket.socket(fam, kind).bind((host, p))
        break
    except OSError:
        pass
print(p)'
}

# wait_for SECONDS CMD...: poll (every 0.1 s) until CMD succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}

# wait_listen [-n NS] [-t SECONDS] [-p PID] tcp|udp PORT [ADDR]: a listener
# (TCP) or a bound socket (UDP) on PORT, and on ADDR when given; for 10 s by
# default, and only while process PID (the server) lives.
wait_listen() {
	local pre=() secs=10 pid=
	while [[ $1 == -* ]]; do
		case $1 in
		-n) pre=(ip netns exec "$2") ;;
		-t) secs=$2 ;;
		-p) pid=$2 ;;
		esac
		shift 2
	done
	local flag=-Hltn filter="sport = :$2"
	[[ $1 == udp ]] && flag=-Hlun
	[[ -n ${3:-} ]] && filter="src $3 and sport = :$2"
	for _ in $(seq $((secs * 10))); do
		[[ -n $("${pre[@]}" ss "$flag" "$filter" 2>/dev/null) ]] && return 0
		[[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# expect_fail "description" EXPECTED_RC PATTERN -- command...: the command
# exits EXPECTED_RC and prints one line on stderr matching PATTERN.
expect_fail() {
	local what=$1 rc_want=$2 pattern=$3
	shift 4
	local out rc lines
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	lines=$(printf '%s' "$out" | grep -c '')
	if [[ $rc -eq $rc_want && $lines -eq 1 && $out =~ $pattern ]]; then
		pass "$what -> exit $rc: $out"
	else
		fail "$what: wanted exit $rc_want and one line matching /$pattern/, got exit $rc: $out"
	fi
}

# start_broker [ARGS...]: graft daemon on $GRAFT_SOCKET (default
# $TMP/graft.sock), waited for; BROKER_PID is its process.
start_broker() {
	export GRAFT_SOCKET=${GRAFT_SOCKET:-$TMP/graft.sock}
	bg "$GRAFT" daemon --socket "$GRAFT_SOCKET" "$@" 2>"$TMP/broker.log"
	BROKER_PID=$!
	if wait_for 15 test -S "$GRAFT_SOCKET"; then
		pass "broker listening on $GRAFT_SOCKET"
	else
		fail "broker did not start: $(cat "$TMP/broker.log")"
		return 1
	fi
}
