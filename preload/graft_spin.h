/* SPDX-License-Identifier: MIT */
/*
 * graft_spin.h — waiting for a peer that answers within microseconds.
 *
 * Blocking in recvmsg() or poll() costs a wakeup across CPUs when the
 * answer comes (about 10 µs each way on some virtual machines, more than
 * the work the broker does for one graft). A waiter that expects its
 * answer soon asks again without blocking, for a bounded window, and only
 * then blocks. It spins only while spinning pays: when the last wait ended
 * within the window (an answer that takes longer, or a peer that is idle,
 * costs one window once, then waits block again until one is quick), and
 * never with a single CPU to run on (the peer could not run meanwhile).
 * Each try that finds nothing yields the CPU (sched_yield()): on a machine
 * with more runnable threads than CPUs, the peer, or whoever else is
 * waiting for this CPU, runs first instead of waiting for the spinner's
 * time slice to end.
 *
 * Shared, so that all of them wait the same way: libgraft waiting for the
 * broker's reply (broker.c), the broker waiting for the next request
 * (native/wait.c), and bench/brokerrt.c, which times both and its floor.
 */
#ifndef GRAFT_SPIN_H
#define GRAFT_SPIN_H

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

/* libgraft's window for the broker's reply to one graft (µs). */
#define GRAFT_SPIN_REPLY_US 50
/* The broker's default window for the next request (`graft daemon --spin-us`). */
#define GRAFT_SPIN_REQUEST_US 50

/* One waiter's memory: whether its last wait ended within the window. */
struct graft_spin {
	uint32_t window_us; /* 0: never spin */
	bool slow;	    /* the last wait took longer than the window */
};

static inline uint64_t graft_spin_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* More than one CPU to run on: the peer can answer while we spin (read once). */
static inline bool graft_spin_useful(void)
{
	static int cpus; /* 0: not read yet; a race reads it twice, harmlessly */

	if (!cpus) {
		cpu_set_t set;

		cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
	}
	return cpus > 1;
}

/* The window for this wait: 0 when spinning would not pay. */
static inline uint64_t graft_spin_begin(const struct graft_spin *s)
{
	if (!s->window_us || s->slow || !graft_spin_useful())
		return 0;
	return (uint64_t)s->window_us * 1000u;
}

/* Remember how long the wait that began at t0 took. */
static inline void graft_spin_end(struct graft_spin *s, uint64_t t0)
{
	s->slow = graft_spin_now_ns() - t0 > (uint64_t)s->window_us * 1000u;
}

/*
 * recvmsg(fd, mh, flags) through `fn`, first asked again with MSG_DONTWAIT
 * for up to the window. Returns what recvmsg returns; with MSG_DONTWAIT in
 * flags it never blocks (nor spins).
 */
static inline ssize_t graft_spin_recvmsg(struct graft_spin *s, int fd, struct msghdr *mh,
					 int flags,
					 ssize_t (*fn)(int, struct msghdr *, int))
{
	uint64_t t0 = graft_spin_now_ns(), spin = graft_spin_begin(s);
	size_t ctl = mh->msg_controllen;
	ssize_t n;

	if (flags & MSG_DONTWAIT)
		return fn(fd, mh, flags);
	while (spin) {
		n = fn(fd, mh, flags | MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			goto done;
		mh->msg_controllen = ctl;
		if (graft_spin_now_ns() - t0 >= spin)
			break;
		sched_yield();
	}
	do
		n = fn(fd, mh, flags);
	while (n < 0 && errno == EINTR);
done:
	graft_spin_end(s, t0);
	return n;
}

/*
 * The peer that asked last, asked directly while spinning: read() reads
 * one request from it without blocking (>= 0, or -errno; -EAGAIN: none
 * yet), which saves the poll() and the read after it on the way to the
 * answer. got and result say whether and what it read.
 */
struct graft_spin_hot {
	int fd;
	int (*read)(void *ctx);
	void *ctx;
	bool got;
	int result;
};

/* While spinning with a hot peer, every this many tries polls every descriptor. */
#define GRAFT_SPIN_POLL_EVERY 4

/*
 * poll(fds, n, timeout_ms), first polled with timeout 0 for up to the
 * window (with `hot`, mostly by reading hot->fd instead: then 0 is returned
 * with hot->got set when it had a request). Returns what poll returns.
 */
static inline int graft_spin_poll(struct graft_spin *s, struct pollfd *fds, nfds_t n,
				  int timeout_ms, struct graft_spin_hot *hot)
{
	uint64_t t0 = graft_spin_now_ns(), spin = graft_spin_begin(s);
	unsigned tries = 0;
	int r;

	if (hot)
		hot->got = false;
	while (spin) {
		if (hot && hot->fd >= 0 && ++tries % GRAFT_SPIN_POLL_EVERY) {
			r = hot->read(hot->ctx);
			if (r != -EAGAIN && r != -EWOULDBLOCK) {
				hot->got = true;
				hot->result = r;
				graft_spin_end(s, t0);
				return 0;
			}
		} else {
			r = poll(fds, n, 0);
			if (r != 0)
				goto done;
		}
		if (graft_spin_now_ns() - t0 >= spin)
			break;
		sched_yield();
	}
	r = poll(fds, n, timeout_ms);
done:
	if (r > 0)
		graft_spin_end(s, t0);
	else
		s->slow = true; /* nothing came: an idle peer, no spinning next time */
	return r;
}

#endif /* GRAFT_SPIN_H */
