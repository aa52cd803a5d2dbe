#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A graft socket passed over SCM_RIGHTS into its own host socket's queue,
# then closed, must still be freed: as uid 65534 (any user with a unix
# endpoint can do it), three accepted graft sockets are sent into their own
# host's queue and closed; the module's use count must come back to what it
# was and rmmod must succeed.
#
#   init netns: endpoint ep-scm (unix $T/scm.sock)
#     scmcycle (uid 65534): graft listener on ep-scm <- plain unix client,
#     accepted graft socket --SCM_RIGHTS--> its own host socket, close all
. "$(dirname "$0")/lib.sh"
set -u

cleanup_extra() { "$NL" del ep-scm 2>/dev/null; }
test_begin gs

refcnt() { cat /sys/module/af_graft/refcnt; }
chmod 1777 "$T"
R0=$(refcnt)
check "unix endpoint ep-scm" "$NL" add ep-scm unix "$T/scm.sock"
check "as uid 65534: 3 graft sockets sent into their own host's queue, closed" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/scmcycle" ep-scm "$T/scm.sock" 3
i=0
while [ "$(refcnt)" != "$R0" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "module use count back to $R0 (now $(refcnt), after $((i / 10)).$((i % 10)) s)" test "$(refcnt)" = "$R0"
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
