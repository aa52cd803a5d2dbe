# SPDX-License-Identifier: GPL-2.0
# Helpers shared by the in-VM scripts (sourced; POSIX sh).

GRAFT_REPO=${GRAFT_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
GRAFT_VM_OUT=${GRAFT_VM_OUT:-$GRAFT_REPO/kernel/build}
KO=${GRAFT_VM_KO:-$GRAFT_VM_OUT/af_graft.ko}
BIN=$GRAFT_VM_OUT/tests
NL=$BIN/nltest
GS=$BIN/graftsock

log() { printf '%s\n' "vm: $*"; }

load_module() {
	[ "${GRAFT_VM_LOAD:-1}" = 1 ] || return 0
	dmesg -C
	insmod "$KO" || { log "insmod $KO failed"; return 1; }
	log "af_graft loaded"
}

# The lines of a kernel log (stdin) that report a kernel bug, on stdout;
# exit 0 if there is one.  An oops header is "WHAT: ERRCODE [#N]", worded
# differently by kernel and trap ("Oops: 0002 [#1]", 6.1's "int3: 0000 [#1]",
# "invalid opcode: 0000 [#1]", "general protection fault, ...: 0000 [#1]";
# 6.12's "Oops: int3: 0000 [#1]"): the "[#N]" is what they share.
# tests/kernel/dmesg-patterns.sh checks this against sample lines.
dmesg_bad() {
	grep -E '\[#[0-9]+\]|BUG:|kernel BUG at|WARNING:|Oops|general protection|Kernel panic|UBSAN|KASAN|kmemleak|refcount_t:|list_(add|del) corruption|soft lockup|rcu: INFO|detected stall|blocked for more than'
}

# dmesg must be free of kernel bugs.
check_dmesg() {
	if dmesg | dmesg_bad >/tmp/dmesg.bad; then
		log "FAIL: kernel complained:"
		dmesg | tail -n 60
		return 1
	fi
	return 0
}

# test_begin NAME NETNS...: a test script's start: the scratch directory $T
# (/tmp/NAME.*), the check counters, the namespaces NETNS... made (lo up),
# and at exit a cleanup: processes started by bg and those in NETNS...
# killed, the namespaces deleted, the test's own cleanup_extra (if it defines
# one) run, $T removed.
test_begin() {
	T=$(mktemp -d "/tmp/$1.XXXXXX"); shift
	TEST_NS="$*" PIDS="" FAILS=0 START=$(date +%s)
	trap test_cleanup EXIT
	for n in $TEST_NS; do
		ip netns add "$n" && ip -n "$n" link set lo up || { log "cannot create $n"; exit 1; }
	done
}
test_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for n in $TEST_NS; do kill $(ip netns pids "$n" 2>/dev/null) 2>/dev/null; done
	for n in $TEST_NS; do ip netns del "$n" 2>/dev/null; done
	command -v cleanup_extra >/dev/null && cleanup_extra
	rm -rf "$T"
}
bg() { # bg LOGNAME CMD...: run in the background, output in $T/LOGNAME.log; pid in LASTPID
	name=$1; shift
	"$@" >"$T/$name.log" 2>&1 &
	LASTPID=$!
	PIDS="$PIDS $LASTPID"
}

# Check bookkeeping for the test scripts (test_begin sets T, FAILS, START).
pass() { log "ok   [$(( $(date +%s) - START ))s] $*"; }
fail() { log "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION CMD...
	d=$1; shift
	if "$@" >"$T/out" 2>&1; then pass "$d"; else fail "$d"; sed 's/^/     | /' "$T/out"; fi
}
wait_for() { # wait_for LOGNAME PATTERN : for WAIT_TRIES (150) tenths of a second
	i=0
	while ! grep -q "$2" "$T/$1.log" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge "${WAIT_TRIES:-150}" ]; then
			log "timeout waiting for '$2' in $1.log:"; sed 's/^/     | /' "$T/$1.log"
			return 1
		fi
		sleep 0.1
	done
}

unload_module() {
	[ "${GRAFT_VM_LOAD:-1}" = 1 ] || return 0
	i=0
	while ! rmmod af_graft 2>/tmp/rmmod.err; do
		i=$((i + 1))
		if [ $i -ge 50 ]; then
			log "FAIL: rmmod af_graft: $(cat /tmp/rmmod.err)"
			return 1
		fi
		sleep 0.2
	done
	log "af_graft unloaded"
}

# Deno (the graft CLI) needs a writable DENO_DIR; the repo's is on the
# read-only 9p root, so work on a tmpfs copy.
prepare_deno() {
	src=$GRAFT_REPO/.tools/deno-dir
	[ -d "$src" ] || return 0
	[ -d /tmp/deno-dir ] || cp -a "$src" /tmp/deno-dir 2>/dev/null || return 0
	export DENO_DIR=/tmp/deno-dir
}
