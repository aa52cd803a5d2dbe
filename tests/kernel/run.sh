#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In the VM: the kernel suite.  Loads af_graft, runs every test, checks dmesg,
# unloads the module, checks dmesg again.
. "$(dirname "$0")/lib.sh"
cd "$GRAFT_REPO" || exit 1
rc=0
load_module || exit 1
prepare_deno
for t in test-version.sh test-nl.sh test-sock.sh test-policy.sh test-scm-cycle.sh \
	test-close-loss.sh test-inspect.sh test-iperf.sh test-spec.sh; do
	t=$GRAFT_REPO/tests/kernel/$t
	log "=== $(basename "$t")"
	start=$(date +%s)
	if sh "$t"; then
		log "=== PASS $(basename "$t") ($(( $(date +%s) - start ))s)"
	else
		log "=== FAIL $(basename "$t")"
		rc=1
	fi
done
check_dmesg || rc=1
unload_module || rc=1
check_dmesg || rc=1
[ $rc = 0 ] && log "ALL PASS" || log "SOME TESTS FAILED"
exit $rc
