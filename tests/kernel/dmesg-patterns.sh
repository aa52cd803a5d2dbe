#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# A unit check of lib.sh's dmesg_bad (no VM): every sample oops, BUG and
# WARNING line below, as 6.1, 6.12 and 7.2 print them, must be reported, and
# none of the ordinary lines.  Run on the host: sh tests/kernel/dmesg-patterns.sh
GRAFT_VM_OUT=/nonexistent
. "$(dirname "$0")/lib.sh"
set -u
FAILS=0 N=0

bad() { # bad LINE: dmesg_bad must report it
	N=$((N + 1))
	if ! printf '%s\n' "$1" | dmesg_bad >/dev/null; then
		log "FAIL not reported: $1"; FAILS=$((FAILS + 1))
	fi
}
good() { # good LINE: dmesg_bad must not report it
	N=$((N + 1))
	if printf '%s\n' "$1" | dmesg_bad >/dev/null; then
		log "FAIL reported, but not a kernel bug: $1"; FAILS=$((FAILS + 1))
	fi
}

# Oops headers: 6.1 names the trap, 6.12 and later say "Oops: " first.
bad '[  812.113311] int3: 0000 [#1] PREEMPT SMP NOPTI'
bad '[   44.020102] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI'
bad '[  301.554210] general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI'
bad '[   12.000001] stack segment: 0000 [#2] PREEMPT SMP NOPTI'
bad '[   99.999999] double fault: 0000 [#1] PREEMPT SMP NOPTI'
bad '[  100.000000] Oops: 0002 [#1] PREEMPT SMP NOPTI'
bad '[  655.108422] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI'
bad '[  655.108422] Oops: general protection fault, probably for non-canonical address 0x6b6b6b6b6b6b6b6b: 0000 [#3] SMP'
bad 'int3: 0000 [#12] SMP'
# Other reports.
bad '[    5.1] BUG: kernel NULL pointer dereference, address: 0000000000000008'
bad '[    5.1] BUG: unable to handle page fault for address: ffffc90000a0b000'
bad '[    5.1] kernel BUG at net/core/skbuff.c:113!'
bad '[    5.1] WARNING: CPU: 1 PID: 4021 at net/core/sock.c:2101 sk_destruct+0x2a/0x40'
bad '[    5.1] refcount_t: underflow; use-after-free.'
bad '[    5.1] list_del corruption. next->prev should be ffff888004a1c2d0, but was dead000000000122'
bad '[   70.3] watchdog: BUG: soft lockup - CPU#0 stuck for 44s! [sockfuzz:241]'
bad '[   70.3] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:'
bad '[  241.9] INFO: task sockfuzz:301 blocked for more than 120 seconds.'
bad '[   70.3] Kernel panic - not syncing: softlockup: hung tasks'
bad '[    5.1] UBSAN: shift-out-of-bounds in net/graft/x.c:12:3'
# Ordinary lines, some with brackets, "#" or numbers in them.
good '[    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2026-11-02)'
good '[    1.234567] af_graft: loaded (AF_GRAFT 46, genl af_graft v1)'
good '[    2.000000] TCP: request_sock_TCP: Possible SYN flooding on port 39017. Sending cookies.'
good '[    2.500000] sockfuzz (236) used greatest stack depth: 11992 bytes left'
good '[    3.000000] 9pnet: Installing 9P2000 support'
good '[    3.100000] IPv6: ADDRCONF(NETDEV_CHANGE): veth0: link becomes ready'
good '[    4.000000] smpboot: CPU0: AMD EPYC [#1 family]'
good '[    4.100000] warning: process `sockfuzz'"'"' used the deprecated sysctl system call'
good '[    4.200000] af_graft: unix message control block not as expected: descriptor cycles through unix host sockets are not collected'

log "dmesg-patterns: $N lines, $FAILS failure(s)"
[ "$FAILS" = 0 ]
