/* SPDX-License-Identifier: MIT */
/*
 * The broker's wait for the next request: poll() over its descriptors,
 * first polled without blocking for a bounded window when the last request
 * came within one (preload/graft_spin.h: a client grafting one socket
 * after another gets its answer without two cross-CPU wakeups; an idle
 * broker, or one served every millisecond, blocks at once and costs nothing).
 */
#include <errno.h>
#include <poll.h>

#include "graft_native.h"
#include "graft_spin.h"

#define GN_EXPORT __attribute__((visibility("default")))

/* The broker waits on one thread. */
static struct graft_spin spin;

GN_EXPORT int32_t graft_wait(uint8_t *fds, uint32_t n, int32_t timeout_ms, uint32_t window_us)
{
	int r;

	spin.window_us = window_us;
	r = graft_spin_poll(&spin, (struct pollfd *)fds, n, timeout_ms);
	return r < 0 ? -errno : r;
}
