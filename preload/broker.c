/* SPDX-License-Identifier: MIT */
/*
 * broker.c — the broker backend: a GRAFT_OP_SOCKET request over a
 * SOCK_SEQPACKET connection, one reply carrying the bound socket.
 *
 * Each thread keeps its connection for the next graft (connecting costs the
 * broker an accept and a credentials lookup per graft). The cached descriptor
 * is checked by inode before every use, so an application that closed it, or
 * reused its number, is never written to; a forked child opens its own; a
 * connection the broker closed while idle is replaced and the request resent.
 */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend.h"
#include "graft_reply.h"
#include "graft_spin.h"
#include "libgraft.h"
#include "tlist.h"

/* How long the broker may take to answer before the graft fails. */
#define GRAFT_BROKER_TIMEOUT_SEC 30

static atomic_uint broker_seq = 1;

/*
 * A broker being restarted (or replaced by its service manager) refuses
 * connections for a moment: a process that has reached it before keeps
 * trying for BROKER_RETRY_MS, with a new socket each time and a backoff from
 * 10 to 200 ms. One that never reached it fails at once.
 */
#define BROKER_RETRY_MS 5000

static atomic_bool broker_reached;

static int broker_connect_once(const struct sockaddr_un *sun)
{
	struct timeval tv = { .tv_sec = GRAFT_BROKER_TIMEOUT_SEC };
	int s, err;

	s = GRAFT_REAL(socket)(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	GRAFT_REAL(setsockopt)(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	GRAFT_REAL(setsockopt)(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (GRAFT_REAL(connect)(s, (const struct sockaddr *)sun,
				  sizeof(*sun)) < 0) {
		if (errno == EINTR)
			continue;
		err = errno;
		GRAFT_REAL(close)(s);
		errno = err;
		return -1;
	}
	return s;
}

static int broker_connect(struct graft_result *res)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s, waited = 0, pause = 10, err;

	memcpy(sun.sun_path, graft_cfg.socket_path,
	       strnlen(graft_cfg.socket_path, sizeof(sun.sun_path) - 1));
	while ((s = broker_connect_once(&sun)) < 0) {
		err = errno;
		if ((err != ECONNREFUSED && err != ENOENT) ||
		    !atomic_load(&broker_reached) || waited >= BROKER_RETRY_MS)
			break;
		usleep((useconds_t)pause * 1000);
		waited += pause;
		pause = pause * 2 > 200 ? 200 : pause * 2;
		errno = err;
	}
	if (s >= 0) {
		atomic_store(&broker_reached, true);
		return s;
	}
	snprintf(res->msg, sizeof(res->msg),
		 "cannot reach the graft broker at %s (%s); is `graft daemon` "
		 "running?",
		 graft_cfg.socket_path, strerror(err));
	return -1;
}

/*
 * Send GRAFT_OP_SOCKET, or with count > 0 GRAFT_OP_SOCKETS (no options; the
 * count follows the request).
 */
static int broker_send(int s, const struct graft_request *req, uint32_t seq,
		       uint32_t count, int flags, struct graft_result *res)
{
	uint8_t buf[sizeof(struct graft_sock_req) +
		    GRAFT_SOCKOPT_MAX * sizeof(struct graft_sockopt)];
	struct graft_sock_req *rq = (void *)buf;
	size_t len;
	ssize_t n;

	if (count) {
		struct graft_socks_req *sr = (void *)buf;

		len = sizeof(*sr);
		memset(sr, 0, sizeof(*sr));
		sr->count = count;
	} else {
		len = sizeof(*rq) + req->nopts * sizeof(struct graft_sockopt);
		memset(rq, 0, sizeof(*rq));
	}
	rq->hdr.magic = GRAFT_PROTO_MAGIC;
	rq->hdr.version = GRAFT_PROTO_VERSION;
	rq->hdr.op = count ? GRAFT_OP_SOCKETS : GRAFT_OP_SOCKET;
	rq->hdr.len = (uint32_t)len;
	rq->hdr.seq = seq;
	strncpy(rq->ep, req->ep, sizeof(rq->ep) - 1);
	rq->family = req->family;
	rq->type = req->type;
	rq->protocol = req->protocol;
	rq->port = req->port;
	if (!count) {
		rq->nopts = req->nopts;
		memcpy(buf + sizeof(*rq), req->opts,
		       req->nopts * sizeof(struct graft_sockopt));
	}

	do
		n = send(s, buf, len, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	snprintf(res->msg, sizeof(res->msg),
		 "cannot send the request to the graft broker at %s (%s)",
		 graft_cfg.socket_path,
		 n < 0 ? strerror(errno) : "short write");
	return -1;
}

static void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		GRAFT_REAL(close)(fds[i]);
}

/*
 * Receive the reply to request `seq` of `op`; its descriptors (at most `max`)
 * go to fds and their number to *nfds. Returns 0 or a positive errno; EAGAIN
 * when flags has MSG_DONTWAIT and the reply is not there yet. With `spin`,
 * the wait polls without blocking first while the broker answers within
 * its window (graft_spin.h): a thread waiting for one socket.
 */
static int broker_recv(int s, uint32_t seq, uint16_t op, int flags, int *fds,
		       int max, int *nfds, struct graft_result *res,
		       struct graft_spin *spin)
{
	struct graft_reply r;
	const struct graft_sock_resp *rp = &r.u.resp;
	ssize_t n;
	int got;

	*nfds = 0;
	graft_reply_init(&r);
	if (spin)
		n = graft_spin_recvmsg(spin, s, &r.mh, MSG_CMSG_CLOEXEC | flags,
				       GRAFT_REAL(recvmsg));
	else
		do
			n = GRAFT_REAL(recvmsg)(s, &r.mh, MSG_CMSG_CLOEXEC | flags);
		while (n < 0 && errno == EINTR);
	if (n < 0 && (flags & MSG_DONTWAIT) &&
	    (errno == EAGAIN || errno == EWOULDBLOCK))
		return EAGAIN;
	if (n < 0) {
		snprintf(res->msg, sizeof(res->msg),
			 "no answer from the graft broker at %s (%s)",
			 graft_cfg.socket_path,
			 errno == EAGAIN ? "timed out" : strerror(errno));
		return EADDRNOTAVAIL;
	}
	got = graft_reply_fds(&r.mh, fds, max, GRAFT_REAL(close));
	if (n == 0) {
		snprintf(res->msg, sizeof(res->msg),
			 "the graft broker at %s closed the connection",
			 graft_cfg.socket_path);
		goto bad;
	}
	if ((size_t)n < sizeof(*rp) || rp->hdr.magic != GRAFT_PROTO_MAGIC ||
	    rp->hdr.version != GRAFT_PROTO_VERSION || rp->hdr.op != op ||
	    rp->hdr.seq != seq) {
		snprintf(res->msg, sizeof(res->msg),
			 "malformed reply from the graft broker at %s",
			 graft_cfg.socket_path);
		goto bad;
	}
	res->broker_replied = true;
	if (rp->status != 0) {
		close_fds(fds, got);
		memcpy(res->msg, rp->msg, GRAFT_MSG_MAX);
		res->msg[GRAFT_MSG_MAX - 1] = '\0';
		if (!res->msg[0])
			snprintf(res->msg, sizeof(res->msg), "%s",
				 strerror(rp->status));
		return rp->status > 0 ? rp->status : EADDRNOTAVAIL;
	}
	if (got == 0) {
		snprintf(res->msg, sizeof(res->msg),
			 "the graft broker sent no socket with its reply%s",
			 (r.mh.msg_flags & MSG_CTRUNC) ? " (truncated)" : "");
		goto bad;
	}
	*nfds = got;
	res->fd = fds[0];
	res->family = rp->family;
	res->addrlen = rp->addrlen <= sizeof(res->addr) &&
				       rp->addrlen <= sizeof(rp->addr)
			       ? rp->addrlen
			       : 0;
	memcpy(&res->addr, rp->addr, res->addrlen);
	return 0;
bad:
	close_fds(fds, got);
	return EADDRNOTAVAIL;
}

/*
 * This thread's connection to the broker, kept between grafts. Every
 * thread's is on one list, so that a forked child can close the copies of
 * all of them (it has only the forking thread; the others' would leak).
 */
struct broker_conn {
	struct graft_tnode node; /* node.pid: the process that opened fd */
	int fd;
	ino_t ino; /* the socket's inode: proof the number still means our socket */
	bool pending;	      /* a GRAFT_OP_SOCKETS reply is still to be read */
	uint32_t pending_seq;
	struct graft_spin spin; /* how quickly the broker answered one graft */
};

static bool conn_is_ours(const struct broker_conn *c)
{
	struct stat st;

	return c->fd >= 0 && fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       st.st_ino == c->ino;
}

static void conn_drop(struct broker_conn *c)
{
	if (conn_is_ours(c))
		GRAFT_REAL(close)(c->fd);
	c->fd = -1;
	c->pending = false;
}

static void conn_release(struct graft_tnode *node)
{
	conn_drop((struct broker_conn *)node);
}

/* Every thread's connection, for fork and thread exit. */
static struct graft_tlist conns = GRAFT_TLIST_INIT(struct broker_conn, conn_release);

static struct broker_conn *conn_get(void)
{
	bool fresh = !graft_tlist_peek(&conns);
	struct broker_conn *c = (struct broker_conn *)graft_tlist_get(&conns);

	if (c && fresh) {
		c->fd = -1;
		c->spin = (struct graft_spin){ .window_us = GRAFT_SPIN_REPLY_US };
	}
	return c;
}

void graft_broker_atfork_prepare(void)
{
	graft_tlist_atfork_prepare(&conns);
}

void graft_broker_atfork_parent(void)
{
	graft_tlist_atfork_parent(&conns);
}

/* In the child: close every thread's connection (copies of the parent's). */
void graft_broker_atfork_child(void)
{
	graft_tlist_atfork_child(&conns);
}

/* A connection to use now: the cached one if still ours, else a new one. */
static int conn_open(struct broker_conn *c, struct graft_result *res, bool *fresh)
{
	struct stat st;
	int s;

	if (c && c->node.pid == graft_self_pid() && conn_is_ours(c)) {
		*fresh = false;
		return c->fd;
	}
	if (c) {
		if (c->node.pid != graft_self_pid() && conn_is_ours(c))
			GRAFT_REAL(close)(c->fd); /* the child's inherited copy */
		c->fd = -1;
		c->pending = false;
	}
	*fresh = true;
	s = broker_connect(res);
	if (s < 0 || !c)
		return s;
	if (fstat(s, &st) == 0) {
		c->fd = s;
		c->node.pid = graft_self_pid();
		c->ino = st.st_ino;
	}
	return s;
}

/* Read and throw away a GRAFT_OP_SOCKETS reply still due on c. */
static void conn_discard_pending(struct broker_conn *c)
{
	int fds[GRAFT_SOCKETS_MAX], n = 0;
	struct graft_result res;

	if (!c->pending)
		return;
	c->pending = false;
	memset(&res, 0, sizeof(res));
	if (broker_recv(c->fd, c->pending_seq, GRAFT_OP_SOCKETS, 0, fds,
			GRAFT_SOCKETS_MAX, &n, &res, NULL) == 0)
		close_fds(fds, n);
	else if (!res.broker_replied)
		conn_drop(c);
}

/*
 * One request over this thread's connection: GRAFT_OP_SOCKET when count is 0
 * (one descriptor back), else GRAFT_OP_SOCKETS for up to `count`.
 */
int graft_broker_request_many(const struct graft_request *req, uint32_t count,
			      int *fds, int *nfds, struct graft_result *res)
{
	struct broker_conn *c = conn_get();
	int attempt, s, err = EADDRNOTAVAIL;
	int max = count ? (int)count : 1;
	uint16_t op = count ? GRAFT_OP_SOCKETS : GRAFT_OP_SOCKET;
	bool fresh;

	res->fd = -1;
	res->broker_replied = false;
	*nfds = 0;
	/* The pool collects its own replies first; this is a safety net. */
	if (c && c->pending && c->node.pid == graft_self_pid() && conn_is_ours(c))
		conn_discard_pending(c);
	for (attempt = 0; attempt < 2; attempt++) {
		uint32_t seq = atomic_fetch_add(&broker_seq, 1);

		s = conn_open(c, res, &fresh);
		if (s < 0)
			return EADDRNOTAVAIL;
		if (broker_send(s, req, seq, count, 0, res) < 0)
			err = -1;
		else
			err = broker_recv(s, seq, op, 0, fds, max, nfds, res,
					  count || !c ? NULL : &c->spin);
		if (err == 0 || (err > 0 && res->broker_replied)) {
			if (!c || c->fd != s)
				GRAFT_REAL(close)(s);
			return err;
		}
		/* The connection failed under us: drop it, and retry once on a new one. */
		if (c && c->fd == s)
			conn_drop(c);
		else
			GRAFT_REAL(close)(s);
		if (fresh)
			break;
		res->msg[0] = '\0';
	}
	return err > 0 ? err : EADDRNOTAVAIL;
}

int graft_broker_post(const struct graft_request *req, uint32_t count)
{
	struct broker_conn *c = conn_get();
	struct graft_result res;
	uint32_t seq;
	int s;

	if (!c || c->pending)
		return EBUSY;
	/* Only on a live connection: (re)connecting may wait, which is the
	 * next synchronous graft's business, not a refill's. */
	if (c->node.pid != graft_self_pid() || !conn_is_ours(c))
		return EAGAIN;
	s = c->fd;
	seq = atomic_fetch_add(&broker_seq, 1);
	memset(&res, 0, sizeof(res));
	if (broker_send(s, req, seq, count, MSG_DONTWAIT, &res) < 0) {
		if (errno != EAGAIN)
			conn_drop(c);
		return EAGAIN;
	}
	c->pending = true;
	c->pending_seq = seq;
	return 0;
}

int graft_broker_collect(bool wait, int *fds, int *nfds,
			 struct graft_result *res)
{
	/* Only a connection with a request on it has anything to collect (and
	 * at thread exit this thread's may be gone already). */
	struct broker_conn *c = (struct broker_conn *)graft_tlist_peek(&conns);
	int err;

	res->fd = -1;
	res->broker_replied = false;
	*nfds = 0;
	if (!c || !c->pending)
		return ENOENT;
	if (c->node.pid != graft_self_pid() || !conn_is_ours(c)) {
		c->pending = false;
		return ENOENT;
	}
	err = broker_recv(c->fd, c->pending_seq, GRAFT_OP_SOCKETS,
			  wait ? 0 : MSG_DONTWAIT, fds, GRAFT_SOCKETS_MAX,
			  nfds, res, NULL);
	if (err == EAGAIN && !wait)
		return EAGAIN;
	c->pending = false;
	if (err && !res->broker_replied)
		conn_drop(c);
	return err;
}

int graft_broker_request(const struct graft_request *req,
			 struct graft_result *res)
{
	int fd, n;

	return graft_broker_request_many(req, 0, &fd, &n, res);
}
