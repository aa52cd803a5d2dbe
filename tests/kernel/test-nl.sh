#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Generic netlink: valid and malformed requests (tests/kernel/nltest.c).
. "$(dirname "$0")/lib.sh"
exec "$GRAFT_VM_OUT/tests/nltest" selftest
