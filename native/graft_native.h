/* SPDX-License-Identifier: MIT */
/*
 * graft_native.h — the broker's socket factory, called through Deno FFI
 * (cli/sys/native.ts mirrors these layouts; its test checks them against
 * graft_native_layout()).
 *
 * The broker decides everything in TypeScript (which endpoint, which options
 * policy allows, the address, whether to listen); this library only carries
 * out a plan, in one call, instead of one FFI call per system call:
 *
 *   setfsuid(owner)                       the sockets' owner (0: unchanged)
 *   (none of these four with `given`: a spare socket made earlier)
 *   setns(target)                         when target_fd >= 0
 *   socket() x count                      SOCK_CLOEXEC; a failure after the
 *                                         first ends the batch early; with
 *                                         GN_BARE nothing more is done: spares,
 *                                         returned as made, for a later `given`
 *   setns(home)                           failure: the thread is in the wrong
 *                                         namespace; every later call fails too (ENOTRECOVERABLE)
 *   setfsuid(0)
 *   per socket: setsockopt() x nopts      ENOPROTOOPT on an optional one: skipped
 *               bind(), listen()          (GN_LISTEN; none of these for a
 *                                         `given` socket with GN_READY)
 *     a socket after the first that fails here ends the batch early
 *   getsockname(first)                    (GN_GETNAME; else the address is sa)
 *   sendmsg(reply_fd, graft_sock_resp + SCM_RIGHTS), close() x made
 *                                         when reply_fd >= 0
 *
 * and reads the request in one call too (graft_recv_packet() below).
 *
 * For two sockets or more, socket() x n goes through io_uring in one
 * io_uring_enter(), and the options and bind() of every socket as linked
 * chains in another (uring.c: a batch's ~100 system calls cost more in entry
 * than in work on a PVM guest). Only operations the kernel ran inline, in
 * this thread (its namespace, its fsuid), are accepted; otherwise, and where
 * the kernel lacks io_uring's socket operations (before 6.11, io_uring
 * disabled or refused by seccomp, GRAFT_URING=0), the system calls above.
 *
 * On failure nothing is left open and graft_make_sockets() returns -1 with
 * err (an errno), step (GN_STEP_*) and, for GN_STEP_SETSOCKOPT, opt (the
 * option's index) set, for the caller's message.
 */
#ifndef GRAFT_NATIVE_H
#define GRAFT_NATIVE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "graft_proto.h"

/* Bumped whenever a layout or a meaning below changes. */
#define GN_ABI 10

#define GN_OPTS_MAX (GRAFT_SOCKOPT_MAX + 2) /* the application's, then graft's own */
#define GN_OPTVAL_MAX GRAFT_SOCKOPT_VAL_MAX
#define GN_SOCKETS_MAX GRAFT_SOCKETS_MAX
#define GN_ADDR_MAX 128

/* gn_plan.flags */
#define GN_LISTEN 0x1  /* listen() after bind (a Unix stream endpoint) */
#define GN_GETNAME 0x2 /* read the bound address back (the kernel picks part of it) */
#define GN_READY 0x4   /* the given socket has its options and address already: hand it out */
#define GN_BARE 0x8    /* make the sockets only (no options, no bind, no reply): spares */

/* gn_result.step: where it failed */
enum gn_step {
	GN_STEP_NONE = 0,
	GN_STEP_SETNS_IN = 1,
	GN_STEP_SOCKET = 2,
	GN_STEP_SETNS_BACK = 3,
	GN_STEP_SETSOCKOPT = 4,
	GN_STEP_BIND = 5,
	GN_STEP_LISTEN = 6,
	GN_STEP_GETSOCKNAME = 7,
	GN_STEP_PLAN = 8, /* the plan itself is out of range (a bug in the caller) */
};

struct gn_opt {
	int32_t level;
	int32_t name;
	uint32_t len; /* 1..GN_OPTVAL_MAX */
	uint32_t optional; /* ENOPROTOOPT skips it */
	uint8_t val[GN_OPTVAL_MAX];
}; /* 48 bytes */

struct gn_plan {
	int32_t family;
	int32_t type; /* SOCK_CLOEXEC is added */
	int32_t protocol;
	int32_t target_fd; /* namespace to make the sockets in; -1: this thread's */
	int32_t home_fd;   /* namespace to return to */
	uint32_t owner;    /* filesystem uid while creating; 0: unchanged */
	uint32_t count;    /* 1..GN_SOCKETS_MAX */
	uint32_t flags;    /* GN_LISTEN | GN_GETNAME | GN_READY */
	uint32_t salen;
	uint32_t nopts;
	int32_t reply_fd; /* send the reply here and close the sockets; -1: keep them */
	uint32_t seq;     /* the reply's header: the request's seq and op */
	uint32_t op;
	uint32_t reserved0; /* 0 */
	int32_t given;    /* with count 1: configure this socket instead of making one; -1: none */
	uint32_t reserved;
	uint8_t sa[GN_ADDR_MAX];
	struct gn_opt opts[GN_OPTS_MAX];
}; /* 64 + 128 + 34 * 48 = 1824 bytes */

struct gn_result {
	int32_t made; /* sockets handed out (or kept in fds) */
	int32_t err;  /* errno of the failure */
	int32_t step; /* enum gn_step */
	int32_t opt;  /* index into opts for GN_STEP_SETSOCKOPT */
	int32_t sent; /* reply_fd >= 0: 0 when sent, else sendmsg's errno */
	uint32_t addrlen;
	int32_t reserved1;
	uint32_t reserved;
	uint8_t addr[GN_ADDR_MAX];
	int32_t fds[GN_SOCKETS_MAX]; /* the first `made` closed already when reply_fd >= 0 */
}; /* 32 + 128 + 128 = 288 bytes */

/* Carry out `p`: the number of sockets made (>= 1), or -1 (see above). */
int32_t graft_make_sockets(const struct gn_plan *p, struct gn_result *r);

/* GN_ABI, and sizes and offsets for the caller to check its mirror against. */
int32_t graft_native_layout(uint32_t *out, uint32_t n);

/*
 * Read one packet from `fd` (MSG_DONTWAIT, MSG_CMSG_CLOEXEC) into buf: its
 * length, or -errno. meta (GN_RECV_META int32s): [0] length, [1] MSG_TRUNC |
 * MSG_CTRUNC of msg_flags, [2] descriptors received, [3] with want_unread,
 * the bytes of our replies the peer has not read (SO_MEMINFO wmem_alloc),
 * [GN_RECV_FDS...] the descriptors.
 */
#define GN_RECV_FDS 4
#define GN_RECV_META (GN_RECV_FDS + GN_SOCKETS_MAX)
int32_t graft_recv_packet(int32_t fd, uint8_t *buf, uint32_t cap, int32_t *meta,
			  int32_t want_unread);

/* Internal (recv.c): the bytes of our replies the peer of fd has not read; -1: unknown. */
int32_t gn_unread(int32_t fd);

/*
 * Internal (uring.c): a batch's socket() calls, and its options and bind(),
 * through io_uring when the kernel has what it takes; GN_URING_NO when not
 * (nothing done: use the system calls).
 */
#define GN_URING_NO (-2)
int gn_uring_sockets(const struct gn_plan *p, struct gn_result *r, int n);
int gn_uring_configure(const struct gn_plan *p, struct gn_result *r, int want,
		       int (*redo)(const struct gn_plan *, int, struct gn_result *));

/*
 * The broker's wait. poll(fds, n, timeout_ms) over struct pollfd entries,
 * first polled without blocking for up to window_us when the last wait ended
 * within that long (preload/graft_spin.h; 0: never). While it spins, hot_fd
 * (>= 0: the client served last) is mostly read directly, as
 * graft_recv_packet() reads (buf, cap, meta, want_unread): when that found
 * something, got[0] is 1, got[1] the read's result and 0 is returned; when
 * the wait ended on a request of hot_fd, it is read so too (then hot_fd is
 * not among the clients below, and others may be ready besides). When
 * the last entry is epfd (an interest list from graft_wait_open()) and it is
 * ready, its ready descriptors go to clients as (fd, events) pairs, at most
 * max, their number to got[2], and epfd does not count in the result.
 * Returns the number of other entries ready, or -errno.
 *
 * A request from hot_fd that matches a fast-path grant (fast.c) is answered
 * in the wait itself, which then goes on waiting (with a timeout of 0 once
 * it served one: the caller's turn comes as soon as nothing else comes
 * within the window); got[3] counts the requests answered so, and the wait
 * returns 0 early when the grant's pool ran low (a refill is due) or after
 * GN_FAST_BURST of them. Its copies of the spares it sent are closed before
 * it returns.
 *
 * Ready clients with a refill grant (batch.c) whose request it covers are
 * served in the wait too, and left out of clients; got[4] counts them. When
 * nothing else was ready, the wait goes on, within timeout_ms of its start.
 */
int32_t graft_wait(uint8_t *fds, uint32_t n, int32_t timeout_ms, uint32_t window_us,
		   int32_t hot_fd, uint8_t *buf, uint32_t cap, int32_t *meta, int32_t want_unread,
		   int32_t *got, int32_t epfd, int32_t *clients, uint32_t max);

/*
 * The fast path's tables (fast.c): pools of prepared spares (numbered for
 * the whole process) and grants, one per connection at most.
 *   graft_fast_pool(low)        a new pool: its number, or -ENOSPC
 *   graft_fast_put(pool, fds, n)   hand spares over: how many it took (the
 *                               caller closes the rest), or -EINVAL
 *   graft_fast_take(pool)       the oldest spare, now the caller's; -1: none
 *   graft_fast_left(pool)       how many it holds
 *   graft_fast_drop(pool)       withdraw its grants, close its spares, free it
 *   graft_fast_grant(fd, req, len, pool, family, addr, addrlen, getname)
 *                               connection fd may have requests equal to req
 *                               (a struct graft_sock_req without options) but
 *                               for the seq answered from pool, with family
 *                               and addr in the reply (with getname, each
 *                               spare's own address, read back); replaces
 *                               fd's grant
 *   graft_fast_revoke(fd)       withdraw fd's grant (before closing fd)
 */
#define GN_FAST_POOLS 64
#define GN_FAST_POOL_MAX 64
#define GN_FAST_GRANTS 64
#define GN_FAST_BURST 256
int32_t graft_fast_pool(int32_t low);
int32_t graft_fast_put(int32_t id, const int32_t *fds, uint32_t n);
int32_t graft_fast_take(int32_t id);
int32_t graft_fast_left(int32_t id);
int32_t graft_fast_drop(int32_t id);
int32_t graft_fast_grant(int32_t fd, const uint8_t *req, uint32_t len, int32_t id, int32_t family,
			 const uint8_t *addr, uint32_t addrlen, int32_t getname);
int32_t graft_fast_revoke(int32_t fd);

/*
 * Internal (wait.c): answer the packet read from fd (n bytes, meta as
 * graft_recv_packet() fills it, meta[3] valid when checked_unread) when a
 * grant covers it: 1 when answered (*low set when its pool ran low), 0 when
 * the caller must handle it.
 */
int gn_fast_serve(int32_t fd, const uint8_t *pkt, int32_t n, const int32_t *meta,
		  int32_t checked_unread, int *low);

/*
 * Internal (wait.c): close the spares sent since the last call. The fast
 * path keeps its copy of each spare it sent until the wait returns (see
 * fast.c); the wait calls it before it returns, whatever it returns.
 */
void gn_fast_flush(void);

/*
 * The fast path for stock refills (batch.c): grants, one per connection at most.
 *   graft_batch_grant(fd, req, len, plan)   connection fd may have requests
 *                               equal to req (a struct graft_socks_req) but
 *                               for the seq answered by carrying out plan
 *                               (count >= 2, no given socket, no listen)
 *                               in the wait; replaces fd's grant; -ENOSPC
 *                               when every slot is taken
 *   graft_batch_revoke(fd)      withdraw fd's grant (before closing fd)
 *   graft_batch_revoke_all()    withdraw every grant
 *   graft_batch_drain(out, max) what was served since the last drain, as
 *                               (fd, batches, sockets, unsent) quadruples
 *                               into out, at most max of them: how many
 *                               (unsent: batches made whose reply could not
 *                               be sent, the sockets closed)
 * The wait counts the batches it served in got[4].
 */
#define GN_BATCH_GRANTS 64
int32_t graft_batch_grant(int32_t fd, const uint8_t *req, uint32_t len,
			  const struct gn_plan *plan);
int32_t graft_batch_revoke(int32_t fd);
void graft_batch_revoke_all(void);
int32_t graft_batch_drain(int32_t *out, uint32_t max);

/*
 * Internal (fast.c, batch.c): whether the len bytes of pkt are those of req
 * but for the header's sequence number (the only bytes a repeated request
 * may change), which goes to *seq.
 */
static inline int gn_same_but_seq(const uint8_t *pkt, const uint8_t *req, uint32_t len,
				  uint32_t *seq)
{
	const size_t off = offsetof(struct graft_hdr, seq), end = off + sizeof(*seq);

	if (len < end || memcmp(pkt, req, off) || memcmp(pkt + end, req + end, len - end))
		return 0;
	memcpy(seq, pkt + off, sizeof(*seq));
	return 1;
}

/* Internal (wait.c): serve fd's request in the wait when its grant covers it: 1 when served. */
int gn_batch_serve(int32_t fd);

/*
 * Internal (wait.c): gn_batch_serve() each (fd, events) pair of clients
 * ready with EPOLLIN only; the served ones are taken out of the list (*n
 * less). How many were served.
 */
int gn_batch_serve_ready(int32_t *clients, int32_t *n);

/* A new epoll interest list (close-on-exec), or -errno. */
int32_t graft_wait_open(void);

/* Add fd to (add != 0) or remove it from the list, for EPOLLIN: 0 or -errno. */
int32_t graft_wait_ctl(int32_t epfd, int32_t fd, int32_t add);

/*
 * The bind guard (guard.c): BPF programs on this process's cgroup v2 that
 * refuse bind() on a socket bound to an address without a port (the client
 * sockets of `port dynamic` endpoints), whoever holds it. links[0..1] get
 * the two BPF links (inet4, inet6), held open for as long as the guard is
 * to stand; msg the cgroup's path. 0, or -errno with msg saying why.
 */
int32_t graft_bind_guard(int32_t *links, char *msg, uint32_t msglen);

/* Internal: send a graft_sock_resp with n sockets by SCM_RIGHTS, without
 * blocking; the sockets stay open. 0 or sendmsg's errno. */
int graft_send_sock_resp(int fd, uint16_t op, uint32_t seq, int32_t family, const uint8_t *addr,
			 uint32_t addrlen, const int32_t *fds, int n);

/* Internal: send r's sockets as the reply to `p` and close them. */
int graft_send_reply(const struct gn_plan *p, struct gn_result *r);

#endif /* GRAFT_NATIVE_H */
