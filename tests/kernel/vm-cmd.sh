#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In the VM: load af_graft, run "$@", check dmesg, unload.  Exit status: the
# command's, or 1 if the kernel complained or the module would not unload.
. "$(dirname "$0")/lib.sh"
load_module || exit 1
prepare_deno
"$@"
rc=$?
log "command exited with $rc"
check_dmesg || rc=1
unload_module || rc=1
check_dmesg || rc=1
exit $rc
