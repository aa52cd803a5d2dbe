#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Graft sockets caught in SCM_RIGHTS cycles through their unix host sockets
# must still be freed.  As uid 65534 (any user with a unix endpoint can do
# it), scmcycle builds each cycle shape 3 times and closes every descriptor:
#   self      an accepted graft socket in its own host's queue
#   pair      two accepted graft sockets, each in the other's host's queue
#   ring      three, in a ring
#   unix      a graft socket in a plain unix socket's queue, that unix
#             socket in the graft socket's host's queue
#   listener  a graft listener in the queue of its host's pending connection
# After each shape the module's use count must come back to what it was, by
# af_graft's collector (its count of released host sockets, the module
# parameter unixgc_collected, grows by the shape's graft sockets), and at
# the end rmmod must succeed.
#
#   init netns: endpoint ep-scm (unix $T/scm.sock)
. "$(dirname "$0")/lib.sh"
set -u

cleanup_extra() { "$NL" del ep-scm 2>/dev/null; }
test_begin gs

P=/sys/module/af_graft/parameters
refcnt() { cat /sys/module/af_graft/refcnt; }
collected() { cat $P/unixgc_collected 2>/dev/null || echo none; }
chmod 1777 "$T"
R0=$(refcnt)
[ -w $P/unixgc_debug ] && echo 1 >$P/unixgc_debug
check "unix endpoint ep-scm" "$NL" add ep-scm unix "$T/scm.sock"
for shape in self:1 pair:2 ring:3 unix:1 listener:1; do
	n=${shape#*:} shape=${shape%:*}
	r=$(refcnt) c=$(collected)
	check "as uid 65534: 3 '$shape' cycles built, every descriptor closed" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/scmcycle" ep-scm "$T/scm.sock" 3 "$shape"
	i=0
	while [ "$(refcnt)" != "$r" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	check "$shape: module use count back to $r (now $(refcnt), after $((i / 10)).$((i % 10)) s)" test "$(refcnt)" = "$r"
	want=$(( ${c#none} + 3 * n ))
	check "$shape: the collector released $((3 * n)) host socket(s) (unixgc_collected $c -> $(collected))" \
		test "$(collected)" = "$want"
done
[ -w $P/unixgc_debug ] && echo 0 >$P/unixgc_debug
log "the cycles, as the collector logged them (unixgc_debug):"
dmesg | grep 'unixgc:' | tail -n 40 | sed 's/^/     | /'
# compat.h's view of a unix message's control block (7.2: a mirror) held.
check "no 'control block not as expected' warning" \
	sh -c '! dmesg | grep "af_graft: unix message control block not as expected"'
"$NL" del ep-scm
if [ "${GRAFT_VM_LOAD:-1}" = 1 ] && [ "$R0" = 0 ]; then
	check "rmmod af_graft succeeds" rmmod af_graft
	check "insmod af_graft again" insmod "$KO"
fi
log "test-scm-cycle: $FAILS failure(s)"
[ "$FAILS" = 0 ]
