/* SPDX-License-Identifier: MIT */
/*
 * The broker's wait for the next request. Its clients are in an epoll
 * interest list (one descriptor, whatever their number: a wait costs what
 * is ready, not what is connected), which is polled along with the few
 * other descriptors (the wake pipe, the listening socket, the seccomp
 * services'). The wait first polls without blocking for a bounded window
 * when the last request came within one (preload/graft_spin.h: a client
 * grafting one socket after another gets its answer without two cross-CPU
 * wakeups; an idle broker, or one served every millisecond, blocks at once
 * and costs nothing). While it spins, the client served last is read
 * directly, so its next request is in hand one poll() and one read sooner;
 * a request the broker granted before, asked again, is answered right there
 * (fast.c) and the wait goes on. So is a granted stock refill from any
 * ready client (batch.c).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>

#include "graft_native.h"
#include "graft_spin.h"

#define GN_EXPORT __attribute__((visibility("default")))
#define GN_WAIT_EVENTS 64

/*
 * Whether the last wait ended within the window (graft_spin.h). One per
 * process, not per waiter: the broker waits on one thread, and two brokers
 * in one process (tests) would only share the guess whether spinning pays,
 * which decides how long a wait polls before it blocks, never what it
 * returns.
 */
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

/*
 * A try while spinning. While a reply of ours may be unread, the try asks
 * only that, and reads nothing before it was read: a client reads its
 * reply before it asks again, so the check (one system call) is mostly
 * done before its next request comes instead of between the request and
 * the answer. Once read, nothing of ours is unread until we send again.
 * (A request sent before the reply was read stays where it is: the poll
 * finds it, and read_hot() reads it with the count.)
 */
static int spin_read_hot(void *ctx)
{
	struct hot_read *h = ctx;

	if (h->want_unread) {
		if (gn_unread(h->fd) != 0)
			return -EAGAIN;
		h->want_unread = 0;
	}
	return read_hot(ctx);
}

GN_EXPORT int32_t graft_wait_open(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

GN_EXPORT int32_t graft_wait_ctl(int32_t epfd, int32_t fd, int32_t add)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &ev) == 0)
		return 0;
	return -errno;
}

/* The clients ready now, as (fd, events) pairs into out: how many. */
static int32_t ready_clients(int32_t epfd, int32_t *out, uint32_t max)
{
	struct epoll_event ev[GN_WAIT_EVENTS];
	int n = epoll_wait(epfd, ev, max < GN_WAIT_EVENTS ? (int)max : GN_WAIT_EVENTS, 0);

	for (int i = 0; i < n; i++) {
		out[2 * i] = ev[i].data.fd;
		out[2 * i + 1] = (int32_t)ev[i].events;
	}
	return n < 0 ? 0 : n;
}

/*
 * Take the hot client out of the ready clients when it is there with a
 * request only (a hang-up or an error is the caller's): whether it was.
 */
static bool pick_hot(int32_t *clients, int32_t *ready, int32_t hot_fd)
{
	for (int32_t i = 0; i < *ready; i++) {
		if (clients[2 * i] != hot_fd)
			continue;
		if (clients[2 * i + 1] != EPOLLIN)
			return false;
		memmove(&clients[2 * i], &clients[2 * i + 2],
			(size_t)(*ready - i - 1) * 2 * sizeof(*clients));
		--*ready;
		return true;
	}
	return false;
}

/* What is left of a wait of timeout_ms begun at t0 (ns): 0 when it is over. */
static int32_t time_left(int32_t timeout_ms, uint64_t t0)
{
	uint64_t spent = (graft_spin_now_ns() - t0) / 1000000u;

	if (timeout_ms < 0)
		return -1;
	return spent >= (uint64_t)timeout_ms ? 0 : timeout_ms - (int32_t)spent;
}

GN_EXPORT int32_t graft_wait(uint8_t *fds, uint32_t n, int32_t timeout_ms, uint32_t window_us,
			     int32_t hot_fd, uint8_t *buf, uint32_t cap, int32_t *meta,
			     int32_t want_unread, int32_t *got, int32_t epfd, int32_t *clients,
			     uint32_t max)
{
	struct hot_read h = { hot_fd, buf, cap, meta, want_unread };
	struct graft_spin_hot hot = { .fd = hot_fd, .read = spin_read_hot, .ctx = &h };
	struct pollfd *p = (struct pollfd *)fds;
	const int32_t budget = timeout_ms;
	const uint64_t t0 = graft_spin_now_ns();
	int r, low = 0, batches;

	spin.window_us = window_us;
	got[2] = got[3] = got[4] = 0;
	for (;;) {
		r = graft_spin_poll(&spin, p, n, timeout_ms, &hot);
		if (r < 0)
			break;
		batches = 0;
		/* The interest list is the last descriptor polled. */
		if (r > 0 && epfd >= 0 && n > 0 && p[n - 1].fd == epfd && p[n - 1].revents) {
			got[2] = ready_clients(epfd, clients, max);
			p[n - 1].revents = 0;
			r--;
			/* The hot client woke the wait: its request is read here too. */
			if (hot_fd >= 0 && pick_hot(clients, &got[2], hot_fd)) {
				hot.result = read_hot(&h);
				hot.got = hot.result != -EAGAIN;
			}
			/* Stock refills granted before are made and sent here (batch.c). */
			batches = gn_batch_serve_ready(clients, &got[2]);
			got[4] += batches;
		}
		if (hot.got) {
			if (!gn_fast_serve(hot_fd, buf, hot.result, meta, h.want_unread, &low))
				break;
			/*
			 * Answered here (fast.c). Wait on, spinning (the client is
			 * grafting socket after socket), but no longer than the window.
			 */
			hot.got = false;
			h.want_unread = 1; /* a reply of ours is out now */
			timeout_ms = 0;
			spin.slow = false;
			got[3]++;
			if (low || got[3] >= GN_FAST_BURST || r > 0 || got[2] > 0)
				break; /* the caller refills the pool, serves the others, or lets them run */
			/* The client has a reply to read first: on a shared CPU, let it. */
			sched_yield();
			continue;
		}
		/* Only granted refills came, all sent: wait on, within the caller's timeout. */
		if (!batches || r > 0 || got[2] > 0 || got[4] >= GN_FAST_BURST)
			break;
		timeout_ms = time_left(budget, t0);
		if (timeout_ms == 0)
			break;
	}
	gn_fast_flush(); /* whatever comes next: the spares sent are not kept past the wait */
	got[0] = hot.got;
	got[1] = hot.result;
	return r < 0 ? -errno : r;
}
