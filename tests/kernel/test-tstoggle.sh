#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A control experiment, not part of run.sh: does the kernel itself oops
# ("Oops: int3" at a netstamp_needed_key site) when receive timestamps are
# switched on and off under loopback traffic, with af_graft NOT loaded?
# Two such oopses were seen under sockfuzz (which toggles SO_TIMESTAMP*).
#
#   scripts/vm-test --kernel K --fuzz --no-module --log LOG -- \
#       sh tests/kernel/test-tstoggle.sh [SECS] [ROUNDS]
#
# ROUNDS (3) runs of tstoggle, SECS (60) each.  --fuzz boots with
# oops=panic: an oops stops the VM on the spot (the console log has it).
. "$(dirname "$0")/lib.sh"
set -u

SECS=${1:-60}
ROUNDS=${2:-3}
test_begin tstoggle
if [ -d /sys/module/af_graft ]; then
	log "FAIL: af_graft is loaded: run with vm-test --no-module"
	exit 1
fi
log "tstoggle: kernel $(uname -r), $(nproc) CPUs, af_graft not loaded, $ROUNDS x $SECS s"
r=1
while [ $r -le "$ROUNDS" ]; do
	if "$BIN/tstoggle" "$SECS" 2 2 >"$T/out" 2>&1; then
		pass "round $r/$ROUNDS: $(cat "$T/out")"
	else
		fail "round $r/$ROUNDS: tstoggle: $(cat "$T/out")"
	fi
	check "dmesg clean after round $r" check_dmesg
	r=$((r + 1))
done
log "test-tstoggle: $FAILS failure(s)"
[ "$FAILS" = 0 ]
