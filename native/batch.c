/* SPDX-License-Identifier: MIT */
/*
 * The broker's fast path for stock refills (GRAFT_OP_SOCKETS), served inside
 * its wait (wait.c) without a turn of the TypeScript loop.
 *
 * A thread of a grafted program that connects over and over asks for a batch
 * of client sockets every few dozen connections, always with the same
 * request: same endpoint, family, type, protocol and count. The TypeScript
 * side decides everything for the first one, as for any request; once it
 * has made and sent a full batch for a connection, it registers a grant:
 * that connection, the request's exact bytes, and the plan it carried out
 * (graft_native.h: namespace, owner, options, address, count). When the wait
 * then finds that connection ready, with a request identical to the granted
 * one in every byte but the sequence number, no descriptors, and every byte
 * of our previous reply read (the one-reply-at-a-time rule), it carries out
 * the same plan and sends the sockets itself. Anything else (another
 * request, a plan that fails, a reply not yet read) is left in the queue,
 * unread, for the TypeScript side, which answers as it always does.
 *
 * The plan cannot have gone stale: it depends on the connection (its
 * namespace, credentials and capabilities, read once per connection), the
 * endpoint registry and the request's bytes. The broker revokes every grant
 * whenever endpoints or namespaces change, when it reloads or stops, and
 * when a namespace nears its limit of undelivered sockets (the TypeScript
 * side counts a granted connection as holding a whole batch, which it can
 * never exceed: a batch is only sent here once the last one was read), and
 * a connection's grant before its descriptor is closed.
 *
 * What was served is counted per grant until the TypeScript side collects
 * it (graft_batch_drain) for its statistics and idle timers.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "graft_native.h"

#define GN_EXPORT __attribute__((visibility("default")))

#define REQ_LEN sizeof(struct graft_socks_req)

struct batch_grant {
	int32_t fd; /* -1: free */
	uint32_t batches; /* served since the last drain */
	uint32_t sockets;
	uint32_t unsent; /* batches made but not sent (the client's queue was full) */
	uint8_t req[REQ_LEN];
	struct gn_plan plan; /* reply_fd and seq are set per request */
};

static struct batch_grant grants[GN_BATCH_GRANTS];
static int ready; /* every fd set to -1 */

static struct batch_grant *grant_of(int32_t fd)
{
	if (!ready) {
		for (int i = 0; i < GN_BATCH_GRANTS; i++)
			grants[i].fd = -1;
		ready = 1;
	}
	for (int i = 0; i < GN_BATCH_GRANTS; i++) {
		if (grants[i].fd == fd)
			return &grants[i];
	}
	return NULL;
}

GN_EXPORT int32_t graft_batch_grant(int32_t fd, const uint8_t *req, uint32_t len,
				    const struct gn_plan *plan)
{
	struct batch_grant *g;

	if (fd < 0 || len != REQ_LEN || plan->given >= 0 || plan->count < 2 ||
	    plan->count > GN_SOCKETS_MAX || (plan->flags & (GN_BARE | GN_READY | GN_LISTEN)))
		return -EINVAL;
	g = grant_of(fd);
	if (!g)
		g = grant_of(-1);
	if (!g)
		return -ENOSPC; /* the TypeScript side serves the rest as before */
	g->fd = -1; /* never half-written while in use */
	memcpy(g->req, req, len);
	g->plan = *plan;
	g->plan.reply_fd = -1;
	g->batches = g->sockets = g->unsent = 0;
	g->fd = fd;
	return 0;
}

GN_EXPORT int32_t graft_batch_revoke(int32_t fd)
{
	struct batch_grant *g = fd < 0 ? NULL : grant_of(fd);

	if (!g)
		return -ENOENT;
	g->fd = -1;
	return 0;
}

GN_EXPORT void graft_batch_revoke_all(void)
{
	grant_of(-1); /* initialises the table */
	for (int i = 0; i < GN_BATCH_GRANTS; i++)
		grants[i].fd = -1;
}

GN_EXPORT int32_t graft_batch_drain(int32_t *out, uint32_t max)
{
	uint32_t n = 0;

	grant_of(-1);
	for (int i = 0; i < GN_BATCH_GRANTS && n < max; i++) {
		struct batch_grant *g = &grants[i];

		if (g->fd < 0 || (g->batches == 0 && g->unsent == 0))
			continue;
		out[4 * n] = g->fd;
		out[4 * n + 1] = (int32_t)g->batches;
		out[4 * n + 2] = (int32_t)g->sockets;
		out[4 * n + 3] = (int32_t)g->unsent;
		g->batches = g->sockets = g->unsent = 0;
		n++;
	}
	return (int32_t)n;
}

/*
 * The request at the head of fd's queue, left there: whether it is g's,
 * but for its sequence number (into *seq).
 */
static int peek_matches(int32_t fd, const struct batch_grant *g, uint32_t *seq)
{
	uint8_t buf[REQ_LEN + 1];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT);

	/* No control buffer: descriptors riding along show as MSG_CTRUNC. */
	if (n != (ssize_t)REQ_LEN || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return 0;
	return gn_same_but_seq(buf, g->req, REQ_LEN, seq);
}

int gn_batch_serve(int32_t fd)
{
	struct batch_grant *g = fd < 0 ? NULL : grant_of(fd);
	struct gn_result r;
	struct gn_plan p;
	uint8_t drop[REQ_LEN];
	uint32_t seq;

	if (!g || !peek_matches(fd, g, &seq) || gn_unread(fd) != 0)
		return 0;
	p = g->plan;
	p.seq = seq;
	p.reply_fd = -1; /* made first: a failure leaves the request to the TypeScript side */
	if (graft_make_sockets(&p, &r) < 1)
		return 0;
	if (recv(fd, drop, sizeof(drop), MSG_DONTWAIT) != (ssize_t)REQ_LEN) {
		for (int i = 0; i < r.made; i++)
			close(r.fds[i]);
		return 0; /* cannot happen: only this thread reads the connection */
	}
	p.reply_fd = fd;
	if (graft_send_reply(&p, &r) == 0) {
		g->batches++;
		g->sockets += (uint32_t)r.made;
	} else {
		g->unsent++; /* as the TypeScript side: a full queue is a refusal, a gone client closes */
	}
	return 1;
}

int gn_batch_serve_ready(int32_t *clients, int32_t *n)
{
	int served = 0;

	for (int32_t i = 0; i < *n;) {
		if (clients[2 * i + 1] == EPOLLIN && gn_batch_serve(clients[2 * i])) {
			memmove(&clients[2 * i], &clients[2 * i + 2],
				(size_t)(*n - i - 1) * 2 * sizeof(*clients));
			--*n;
			served++;
			continue;
		}
		i++;
	}
	return served;
}
