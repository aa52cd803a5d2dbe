/* SPDX-License-Identifier: MIT */
/*
 * A batch's system calls through io_uring (see graft_native.h): socket() x n
 * in one io_uring_enter, then every socket's options and bind() as linked
 * chains in another. On a PVM guest a system call costs a few microseconds of
 * entry alone; a 32-socket batch makes ~100 of them.
 *
 * socket() depends on the thread's network namespace and filesystem uid. An
 * operation issued inline by io_uring_enter() runs in this thread and sees
 * both; one punted to an io-wq worker would see the worker's (the namespace
 * and creds it was created with). With IORING_SETUP_DEFER_TASKRUN a worker's
 * completion is posted only when this thread asks for events, so a batch
 * whose every completion is already in the ring when io_uring_enter() returns
 * without IORING_ENTER_GETEVENTS was made inline, in the right namespace, as
 * the right owner. Anything else: its sockets are closed, io_uring is off for
 * good, and the batch is made with plain system calls.
 *
 * io_uring is used when io_uring_setup() works and the kernel knows
 * IORING_OP_SOCKET, IORING_OP_URING_CMD and IORING_OP_BIND (6.11+); it is
 * probed once per thread. GRAFT_URING=0 turns it off; GRAFT_URING=punt (for
 * the tests) sends every socket() to a worker, which must be caught.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/io_uring.h>

#include "graft_native.h"

/* Newer than some installed headers: the kernel's ABI numbers. */
#define OP_SOCKET 45	 /* IORING_OP_SOCKET, 5.19 */
#define OP_URING_CMD 46	 /* IORING_OP_URING_CMD, 5.19 */
#define OP_BIND 56	 /* IORING_OP_BIND, 6.11 */
#define CMD_SETSOCKOPT 3 /* SOCKET_URING_OP_SETSOCKOPT, 6.7 */
#define OP_MAX 57

#define RING_ENTRIES 128 /* one socket's chain (GN_OPTS_MAX + 1) always fits */

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned queued; /* sqes written since the last enter */
	void *rings, *sqe_map; /* the two mappings, and their lengths */
	size_t rings_len, sqe_len;
};

static __thread struct ring ring;
static __thread int state; /* 0: not probed yet; 1: in use; -1: off */
static __thread int punt;  /* GRAFT_URING=punt */

static void ring_off(void);

static int enter(unsigned submit, unsigned wait, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, ring.fd, submit, wait, flags, NULL, 0);
}

static int probe_ops(int fd)
{
	size_t len = sizeof(struct io_uring_probe) + OP_MAX * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *pr = calloc(1, len);
	int ok;

	if (!pr)
		return 0;
	ok = syscall(__NR_io_uring_register, fd, IORING_REGISTER_PROBE, pr, OP_MAX) == 0 &&
	     pr->last_op >= OP_BIND;
	ok = ok && (pr->ops[OP_SOCKET].flags & IO_URING_OP_SUPPORTED) &&
	     (pr->ops[OP_URING_CMD].flags & IO_URING_OP_SUPPORTED) &&
	     (pr->ops[OP_BIND].flags & IO_URING_OP_SUPPORTED);
	free(pr);
	return ok;
}

static void *map(int fd, size_t len, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

/* Set the ring up (once per thread); 1 when it can be used. */
static int ring_ready(void)
{
	struct io_uring_params p;
	const char *env;
	char *sq, *cq;
	size_t sqlen, cqlen;

	if (state)
		return state > 0;
	state = -1;
	env = getenv("GRAFT_URING");
	if (env && strcmp(env, "0") == 0)
		return 0;
	punt = env && strcmp(env, "punt") == 0;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
	ring.fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
	if (ring.fd < 0)
		return 0; /* ENOSYS, EPERM (io_uring_disabled, seccomp), EINVAL (old kernel) */
	sqlen = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cqlen = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (sqlen < cqlen)
		sqlen = cqlen;
	sq = (p.features & IORING_FEAT_SINGLE_MMAP) && probe_ops(ring.fd) ?
		     map(ring.fd, sqlen, IORING_OFF_SQ_RING) : NULL;
	cq = sq;
	ring.rings = sq;
	ring.rings_len = sqlen;
	ring.sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
	ring.sqe_map = sq ? map(ring.fd, ring.sqe_len, IORING_OFF_SQES) : NULL;
	ring.sqes = ring.sqe_map;
	if (!ring.sqes) {
		ring_off();
		return 0;
	}
	ring.sq_tail = (unsigned *)(sq + p.sq_off.tail);
	ring.sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	ring.cq_head = (unsigned *)(cq + p.cq_off.head);
	ring.cq_tail = (unsigned *)(cq + p.cq_off.tail);
	ring.cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	ring.cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	for (unsigned i = 0; i < p.sq_entries; i++)
		((unsigned *)(sq + p.sq_off.array))[i] = i;
	state = 1;
	return 1;
}

/* Off for good: the ring is closed (a worker it may have is the kernel's to end). */
static void ring_off(void)
{
	if (ring.sqe_map)
		munmap(ring.sqe_map, ring.sqe_len);
	if (ring.rings)
		munmap(ring.rings, ring.rings_len);
	close(ring.fd);
	memset(&ring, 0, sizeof(ring));
	ring.fd = -1;
	state = -1;
}

static struct io_uring_sqe *sqe_next(uint64_t data)
{
	unsigned tail = *ring.sq_tail + ring.queued++;
	struct io_uring_sqe *s = &ring.sqes[tail & *ring.sq_mask];

	memset(s, 0, sizeof(*s));
	s->user_data = data;
	return s;
}

/* Hand the queued sqes to the kernel: io_uring_enter()'s result. */
static int submit(unsigned wait)
{
	unsigned n = ring.queued;
	int ret;

	__atomic_store_n(ring.sq_tail, *ring.sq_tail + n, __ATOMIC_RELEASE);
	ring.queued = 0;
	ret = enter(n, wait, wait ? IORING_ENTER_GETEVENTS : 0);
	return ret;
}

static unsigned cq_ready(void)
{
	return __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE) - *ring.cq_head;
}

/* Wait until `n` completions are in the ring (GETEVENTS runs the deferred work). */
static int cq_wait(unsigned n)
{
	while (cq_ready() < n) {
		if (enter(0, n - cq_ready(), IORING_ENTER_GETEVENTS) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Take `n` completions: res[] by user_data (which must be < n). */
static void cq_take(unsigned n, int32_t *res)
{
	unsigned head = *ring.cq_head;

	for (unsigned i = 0; i < n; i++, head++) {
		const struct io_uring_cqe *c = &ring.cqes[head & *ring.cq_mask];

		if (c->user_data < n)
			res[c->user_data] = c->res;
	}
	__atomic_store_n(ring.cq_head, head, __ATOMIC_RELEASE);
}

/*
 * socket() x n through the ring, in this thread's namespace and as its
 * fsuid: the number made (>= 1, in r->fds), -1 with step/err set when the
 * first failed, or GN_URING_NO with nothing left open (use system calls).
 */
int gn_uring_sockets(const struct gn_plan *p, struct gn_result *r, int n)
{
	int32_t res[GN_SOCKETS_MAX];
	int made, ret;

	if (n < 2 || n > GN_SOCKETS_MAX || !ring_ready())
		return GN_URING_NO;
	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *s = sqe_next((uint64_t)i);

		s->opcode = OP_SOCKET;
		s->fd = p->family;
		s->off = (uint64_t)(uint32_t)(p->type | SOCK_CLOEXEC);
		s->len = (uint32_t)p->protocol;
		if (punt)
			s->flags = IOSQE_ASYNC;
	}
	ret = submit(0);
	if (ret != n || cq_ready() != (unsigned)n) {
		/* not all inline: wait for what was submitted, close it all */
		if (ret > 0 && cq_wait((unsigned)ret) == 0) {
			cq_take((unsigned)ret, res);
			for (int i = 0; i < ret; i++)
				if (res[i] >= 0)
					close(res[i]);
		}
		ring_off();
		return GN_URING_NO;
	}
	cq_take((unsigned)n, res);
	for (made = 0; made < n && res[made] >= 0; made++)
		r->fds[made] = res[made];
	for (int i = made; i < n; i++)
		if (res[i] >= 0)
			close(res[i]); /* after a failure: the batch ends early, as with socket() */
	if (made == 0) {
		r->step = GN_STEP_SOCKET;
		r->err = -res[0];
		r->made = 0;
		return -1;
	}
	return made;
}

/* Queue socket i's chain: its options in order, then bind (user_data = sqe index). */
static void queue_chain(const struct gn_plan *p, int fd, unsigned *k)
{
	for (uint32_t j = 0; j < p->nopts; j++) {
		const struct gn_opt *o = &p->opts[j];
		struct io_uring_sqe *s = sqe_next((*k)++);

		s->opcode = OP_URING_CMD;
		s->fd = fd;
		s->off = CMD_SETSOCKOPT; /* cmd_op */
		s->addr = (uint64_t)(uint32_t)o->level | (uint64_t)(uint32_t)o->name << 32;
		s->splice_fd_in = (int32_t)o->len; /* optlen */
		s->addr3 = (uint64_t)(uintptr_t)o->val; /* optval */
		s->flags = IOSQE_IO_LINK;
	}
	struct io_uring_sqe *s = sqe_next((*k)++);

	s->opcode = OP_BIND;
	s->fd = fd;
	s->addr = (uint64_t)(uintptr_t)p->sa;
	s->off = p->salen;
}

/*
 * Options and bind() for r->fds[from..to) through the ring: done[i] = 1 for
 * a socket whose whole chain succeeded. Chains go in as many enters as the
 * ring needs. -1: the ring failed (done[] holds what finished).
 */
static int chains(const struct gn_plan *p, const struct gn_result *r, int from, int to,
		  uint8_t *done)
{
	unsigned per = p->nopts + 1, k = 0, first = (unsigned)from;
	int32_t res[RING_ENTRIES];

	for (int i = from; i <= to; i++) {
		if (i < to && k + per <= RING_ENTRIES) {
			queue_chain(p, r->fds[i], &k);
			continue;
		}
		if (k == 0)
			break;
		if (submit(k) != (int)k || cq_wait(k) < 0)
			return -1;
		cq_take(k, res);
		for (unsigned c = 0; c < k / per; c++) {
			done[first + c] = 1;
			for (unsigned j = 0; j < per; j++)
				done[first + c] &= res[c * per + j] >= 0;
		}
		first += k / per;
		k = 0;
		i--; /* socket i was not queued yet */
	}
	return 0;
}

/*
 * Configure r->fds[0..want) (options, bind) through the ring: how many in a
 * row are ready (failures set step/err as configure() does), or GN_URING_NO
 * when the ring is not in use (nothing was done). A socket whose chain failed
 * is configured again with system calls (`redo`), whose result counts: the
 * ring may lack an operation for its protocol, and an optional option the
 * family does not know is skipped there.
 */
int gn_uring_configure(const struct gn_plan *p, struct gn_result *r, int want,
		       int (*redo)(const struct gn_plan *, int, struct gn_result *))
{
	uint8_t done[GN_SOCKETS_MAX] = { 0 };
	int ok;

	if (want < 2 || (p->flags & GN_LISTEN) || p->nopts + 1 > RING_ENTRIES || !ring_ready())
		return GN_URING_NO;
	if (chains(p, r, 0, want, done) < 0)
		ring_off(); /* done[] says what finished; the rest go through redo */
	for (ok = 0; ok < want; ok++) {
		if (!done[ok] && redo(p, r->fds[ok], r) < 0)
			break;
	}
	return ok;
}
