#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `graft version` reports the loaded module's version next to graft's and
# libgraft.so's, and `--backend auto` picks the kernel when it is loaded.
. "$(dirname "$0")/lib.sh"
GRAFT=$GRAFT_REPO/.tools/bin/graft
out=$("$GRAFT" version) || { log "FAIL graft version exited non-zero"; exit 1; }
log "$(echo "$out" | tr '\n' ';')"
want=$(sed -n 's/^#define AF_GRAFT_VERSION "\(.*\)"/\1/p' "$GRAFT_REPO/kernel/uapi/af_graft.h")
case $out in
*"af_graft.ko $want"*) log "ok   graft version shows af_graft.ko $want" ;;
*) log "FAIL graft version does not show af_graft.ko $want"; exit 1 ;;
esac
json=$("$GRAFT" -j version)
case $json in
*"\"kernel\":\"$want\""*) log "ok   graft -j version has kernel $want" ;;
*) log "FAIL graft -j version: $json"; exit 1 ;;
esac
