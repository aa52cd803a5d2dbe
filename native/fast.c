/* SPDX-License-Identifier: MIT */
/*
 * The broker's fast path for repeated single grafts, served inside its wait
 * (wait.c) without a turn of the TypeScript loop.
 *
 * The TypeScript side decides everything, as for any request: after it has
 * granted a connection's GRAFT_OP_SOCKET request with a prepared spare
 * (a port-0 client socket, configured and bound ahead), it registers a
 * grant: that connection, the request's exact bytes, and the pool of
 * prepared spares of the request's kind, which it hands over here. When
 * the wait then reads, from that connection, a request identical to the
 * granted one in every byte but the sequence number (the client's choice,
 * echoed), with no descriptors and no truncation, while the connection has
 * read our previous reply (the one-reply-at-a-time rule) and the pool has a
 * spare, the spare is sent as the reply here. Anything else goes to the
 * TypeScript side as before.
 *
 * The policy cannot have changed for such a request: it depends on the
 * connection (its namespace, its credentials and capabilities, read once
 * per connection), the endpoint registry and the request's bytes; the
 * broker drops every pool, and the grants on them, whenever endpoints or
 * namespaces change, when it reloads, when spares expire and when it
 * stops, and a grant when its connection is closed. A grant names one
 * connection by its descriptor and is withdrawn before that descriptor is
 * closed, so no other connection can use it.
 *
 * The broker's copy of a spare it sent is closed when the wait returns
 * (gn_fast_flush()), not between the reply and the next request: a client
 * that closes its socket at once would otherwise make that close(), the
 * last one, tear the socket down there, and on a CPU shared with the
 * client every system call there delays its next answer. The wait returns
 * after its window of quiet, when a pool runs low (a pool holds
 * GN_FAST_POOL_MAX spares at most; the TypeScript side adds 32 at a time at
 * most) and after GN_FAST_BURST answers, so a client's close() of such a
 * socket takes effect (its FIN is sent) that much later at most.
 *
 * One broker thread uses these tables (as sockets.c's `stranded`); pools are
 * numbered for the whole process, so brokers sharing one (tests) never
 * share a pool.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "graft_native.h"

#define GN_EXPORT __attribute__((visibility("default")))


struct pool {
	int used;
	int32_t low; /* the wait returns once this few are left (a refill is due) */
	int32_t n;
	int32_t fds[GN_FAST_POOL_MAX]; /* oldest first */
};

struct grant {
	int32_t fd; /* -1: free */
	int32_t pool;
	uint32_t len;
	int32_t family;
	int32_t getname; /* each spare's address is read back (the kernel picked part of it) */
	uint32_t addrlen;
	uint8_t addr[GN_ADDR_MAX];
	uint8_t req[sizeof(struct graft_sock_req)]; /* no options: nothing follows */
};

static struct pool pools[GN_FAST_POOLS];
static struct grant grants[GN_FAST_GRANTS];
static int grants_ready; /* every fd set to -1 */
static unsigned next_slot;
static int32_t sent[GN_FAST_POOL_MAX]; /* spares sent whose copy is still open here */
static int nsent;

static void grants_init(void)
{
	if (grants_ready)
		return;
	for (int i = 0; i < GN_FAST_GRANTS; i++)
		grants[i].fd = -1;
	grants_ready = 1;
}

static struct grant *grant_of(int32_t fd)
{
	grants_init();
	for (int i = 0; i < GN_FAST_GRANTS; i++) {
		if (grants[i].fd == fd)
			return &grants[i];
	}
	return NULL;
}

static int pool_ok(int32_t id)
{
	return id >= 0 && id < GN_FAST_POOLS && pools[id].used;
}

GN_EXPORT int32_t graft_fast_pool(int32_t low)
{
	for (int i = 0; i < GN_FAST_POOLS; i++) {
		if (!pools[i].used) {
			pools[i] = (struct pool){ .used = 1, .low = low };
			return i;
		}
	}
	return -ENOSPC;
}

GN_EXPORT int32_t graft_fast_put(int32_t id, const int32_t *fds, uint32_t n)
{
	struct pool *p = &pools[id];
	uint32_t i;

	if (!pool_ok(id))
		return -EINVAL;
	for (i = 0; i < n && p->n < GN_FAST_POOL_MAX; i++)
		p->fds[p->n++] = fds[i];
	return (int32_t)i;
}

/* The oldest spare, now the caller's; -1 when there is none. */
static int32_t take(struct pool *p)
{
	int32_t fd;

	if (p->n == 0)
		return -1;
	fd = p->fds[0];
	memmove(p->fds, p->fds + 1, (size_t)--p->n * sizeof(p->fds[0]));
	return fd;
}

GN_EXPORT int32_t graft_fast_take(int32_t id)
{
	return pool_ok(id) ? take(&pools[id]) : -1;
}

GN_EXPORT int32_t graft_fast_left(int32_t id)
{
	return pool_ok(id) ? pools[id].n : 0;
}

GN_EXPORT int32_t graft_fast_drop(int32_t id)
{
	if (!pool_ok(id))
		return -EINVAL;
	grants_init();
	for (int i = 0; i < GN_FAST_GRANTS; i++) {
		if (grants[i].pool == id)
			grants[i].fd = -1; /* withdrawn before its spares go */
	}
	for (int i = 0; i < pools[id].n; i++)
		close(pools[id].fds[i]);
	pools[id] = (struct pool){ 0 };
	return 0;
}

GN_EXPORT int32_t graft_fast_grant(int32_t fd, const uint8_t *req, uint32_t len, int32_t id,
				   int32_t family, const uint8_t *addr, uint32_t addrlen, int32_t getname)
{
	struct grant *g;

	if (fd < 0 || !pool_ok(id) || len != sizeof(struct graft_sock_req) ||
	    addrlen > GN_ADDR_MAX)
		return -EINVAL;
	g = grant_of(fd);
	if (!g)
		g = grant_of(-1);
	if (!g)
		g = &grants[next_slot++ % GN_FAST_GRANTS]; /* full: the oldest slot goes */
	g->fd = -1; /* never half-written while in use */
	g->pool = id;
	g->len = len;
	g->family = family;
	g->getname = getname;
	g->addrlen = addrlen;
	memcpy(g->addr, addr, addrlen);
	memcpy(g->req, req, len);
	g->fd = fd;
	return 0;
}

GN_EXPORT int32_t graft_fast_revoke(int32_t fd)
{
	struct grant *g = fd < 0 ? NULL : grant_of(fd);

	if (!g)
		return -ENOENT;
	g->fd = -1;
	return 0;
}

/* The reply to g's request with sequence number seq: sock by SCM_RIGHTS. 0 or an errno. */
static int send_spare(int32_t fd, const struct grant *g, uint32_t seq, int32_t sock)
{
	uint8_t addr[GN_ADDR_MAX];
	socklen_t len = sizeof(addr);

	if (!g->getname)
		return graft_send_sock_resp(fd, GRAFT_OP_SOCKET, seq, g->family, g->addr,
					    g->addrlen, &sock, 1);
	if (getsockname(sock, (struct sockaddr *)addr, &len) < 0)
		return errno;
	return graft_send_sock_resp(fd, GRAFT_OP_SOCKET, seq, g->family, addr,
				    len < sizeof(addr) ? len : sizeof(addr), &sock, 1);
}

int gn_fast_serve(int32_t fd, const uint8_t *pkt, int32_t n, const int32_t *meta,
		  int32_t checked_unread, int *low)
{
	struct grant *g;
	struct pool *p;
	uint32_t seq;
	int32_t sock;

	if (fd < 0 || n <= 0)
		return 0;
	g = grant_of(fd);
	if (!g || (uint32_t)n != g->len || meta[1] || meta[2])
		return 0; /* not granted, another shape, truncated, or descriptors came along */
	if (checked_unread && meta[3])
		return 0; /* our previous reply is unread: the TypeScript side refuses it */
	if (!gn_same_but_seq(pkt, g->req, g->len, &seq))
		return 0;
	p = &pools[g->pool];
	sock = take(p);
	if (sock < 0)
		return 0;
	if (send_spare(fd, g, seq, sock) != 0) {
		/* Back first in line; the TypeScript side answers as it would have. */
		memmove(p->fds + 1, p->fds, (size_t)p->n * sizeof(p->fds[0]));
		p->fds[0] = sock;
		p->n++;
		return 0;
	}
	if (nsent == GN_FAST_POOL_MAX)
		gn_fast_flush();
	sent[nsent++] = sock;
	*low = p->n <= p->low;
	return 1;
}

void gn_fast_flush(void)
{
	for (int i = 0; i < nsent; i++)
		close(sent[i]);
	nsent = 0;
}
