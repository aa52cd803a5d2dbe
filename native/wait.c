/* SPDX-License-Identifier: MIT */
/*
 * The broker's wait for the next request: poll() over its descriptors,
 * first without blocking for a bounded window when the last request came
 * within one (preload/graft_spin.h: a client grafting one socket after
 * another gets its answer without two cross-CPU wakeups; an idle broker, or
 * one served every millisecond, blocks at once and costs nothing). While
 * it spins, the client served last is read directly, so its next request
 * is in hand one poll() and one read sooner.
 */
#include <errno.h>
#include <poll.h>

#include "graft_native.h"
#include "graft_spin.h"

#define GN_EXPORT __attribute__((visibility("default")))

/* The broker waits on one thread. */
static struct graft_spin spin;

struct hot_read {
	int32_t fd;
	uint8_t *buf;
	uint32_t cap;
	int32_t *meta;
	int32_t want_unread;
};

static int read_hot(void *ctx)
{
	struct hot_read *h = ctx;

	return graft_recv_packet(h->fd, h->buf, h->cap, h->meta, h->want_unread);
}

GN_EXPORT int32_t graft_wait(uint8_t *fds, uint32_t n, int32_t timeout_ms, uint32_t window_us,
			     int32_t hot_fd, uint8_t *buf, uint32_t cap, int32_t *meta,
			     int32_t want_unread, int32_t *got)
{
	struct hot_read h = { hot_fd, buf, cap, meta, want_unread };
	struct graft_spin_hot hot = { .fd = hot_fd, .read = read_hot, .ctx = &h };
	int r;

	spin.window_us = window_us;
	r = graft_spin_poll(&spin, (struct pollfd *)fds, n, timeout_ms, &hot);
	got[0] = hot.got;
	got[1] = hot.result;
	return r < 0 ? -errno : r;
}
