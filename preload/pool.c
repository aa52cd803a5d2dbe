/* SPDX-License-Identifier: MIT */
/*
 * pool.c — a per-thread stock of client sockets for `port dynamic`
 * endpoints, so that a grafted connect() does not wait for the broker.
 *
 * A TCP client graft asks for no port; the broker binds such sockets to the
 * endpoint's address with IP_BIND_ADDRESS_NO_PORT (connect() picks the port),
 * so nothing is reserved and a batch is cheap. The broker still does every
 * bind: the application never holds an unbound host-namespace socket.
 *
 * Each thread keeps up to POOL_SLOTS (endpoint, family, protocol) stocks.
 * The first graft of a stock waits for one batch; after that, a stock that
 * falls POOL_SLACK below its depth asks the broker for the next batch
 * without waiting (graft_broker_post) and picks the reply up on a later
 * graft, so the broker works while the application does. The depth starts
 * at one batch and adapts: it doubles (up to POOL_CAP) each time the stock
 * ran dry with a refill still on its way (the application connects faster
 * than one batch covers the broker's answer, as on a loaded machine), and
 * halves when sockets grow too old unused (a slow client keeps few). Sockets are handed out oldest
 * first; one older than POOL_TTL_NS is thrown away (so an endpoint redefined
 * in the broker is picked up), a stocked descriptor is checked by inode
 * before it is handed out (an application that closed it, or reused the
 * number, is never given someone else's file), a forked child closes every
 * thread's stock, and a thread's stock is closed when the thread exits.
 * GRAFT_POOL=0 turns the pool off.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "graft_env.h"
#include "libgraft.h"
#include "tlist.h"

#define POOL_BATCH GRAFT_SOCKETS_MAX
#define POOL_SLACK (POOL_BATCH / 4) /* refill this far below the depth */
#define POOL_DEPTH_MAX (4 * POOL_BATCH)
#define POOL_CAP (POOL_DEPTH_MAX + POOL_BATCH) /* a refill lands on top */
#define POOL_SLOTS 4
#define POOL_TTL_NS (2ULL * 1000 * 1000 * 1000)

struct pool_sock {
	int fd;
	ino_t ino;
	uint64_t born;
};

struct pool_slot {
	char ep[GRAFT_EPNAME_MAX];
	int family, protocol;
	bool used;
	bool off; /* the broker will not batch for this endpoint */
	int head, n; /* ring: the oldest at head */
	int depth;   /* the stock to keep: POOL_BATCH..POOL_DEPTH_MAX */
	struct pool_sock socks[POOL_CAP];
	int host_family;
	socklen_t addrlen;
	struct sockaddr_storage addr;
};

struct pool {
	struct graft_tnode node; /* node.pid: the process the stock belongs to */
	unsigned next;
	int pending; /* slot whose refill is on its way, or -1 */
	uint64_t pending_since; /* when it was asked for */
	struct pool_slot slot[POOL_SLOTS];
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static bool pool_enabled;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool still_ours(int fd, ino_t ino)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino;
}

/* Close what a slot holds (only descriptors that are still ours). */
static void slot_drain(struct pool_slot *sl)
{
	for (int i = 0; i < sl->n; i++) {
		const struct pool_sock *ps = &sl->socks[(sl->head + i) % POOL_CAP];

		if (still_ours(ps->fd, ps->ino))
			graft_real.close(ps->fd);
	}
	sl->head = sl->n = 0;
}

static void pool_drain_all(struct graft_tnode *node)
{
	struct pool *pl = (struct pool *)node;

	for (int i = 0; i < POOL_SLOTS; i++)
		slot_drain(&pl->slot[i]);
	pl->pending = -1;
}

/* Every thread's stock, for fork and thread exit. */
static struct graft_tlist pools = GRAFT_TLIST_INIT(struct pool, pool_drain_all);

static void pool_init(void)
{
	const char *v = getenv(GRAFT_ENV_POOL);

	pool_enabled = !(v && !strcmp(v, "0"));
}

static struct pool *pool_get(void)
{
	struct pool *pl;
	bool fresh;

	pthread_once(&pool_once, pool_init);
	if (!pool_enabled)
		return NULL;
	fresh = !graft_tlist_peek(&pools);
	pl = (struct pool *)graft_tlist_get(&pools);
	if (pl && fresh)
		pl->pending = -1;
	if (pl && pl->node.pid != graft_self_pid()) {
		/* A child the fork handlers did not run for (a raw clone). */
		pool_drain_all(&pl->node);
		pl->node.pid = graft_self_pid();
	}
	return pl;
}

void graft_pool_atfork_prepare(void)
{
	graft_tlist_atfork_prepare(&pools);
}

void graft_pool_atfork_parent(void)
{
	graft_tlist_atfork_parent(&pools);
}

/* In the child: close every thread's stock; keep only this thread's entry. */
void graft_pool_atfork_child(void)
{
	graft_tlist_atfork_child(&pools);
}

/* Options that may follow the bind (the port is chosen at connect()). */
static bool option_fits_after_bind(const struct graft_sockopt *o)
{
	switch (o->level) {
	case SOL_SOCKET:
		switch (o->name) {
		case SO_REUSEADDR:
		case SO_REUSEPORT:
		case SO_KEEPALIVE:
		case SO_BROADCAST:
		case SO_SNDBUF:
		case SO_RCVBUF:
		case SO_LINGER:
		case SO_RCVTIMEO:
		case SO_SNDTIMEO:
		case SO_PRIORITY:
			return true;
		}
		return false;
	case IPPROTO_TCP:
		return true;
	case IPPROTO_IP:
		return o->name == IP_TOS || o->name == IP_TTL;
	case IPPROTO_IPV6:
		return o->name == IPV6_TCLASS;
	}
	return false;
}

static bool pool_applies(const struct graft_request *req)
{
	if (graft_cfg.backend != GRAFT_BACKEND_BROKER || req->type != SOCK_STREAM ||
	    req->port != 0)
		return false;
	for (int i = 0; i < req->nopts; i++)
		if (!option_fits_after_bind(&req->opts[i]))
			return false;
	return true;
}

/* Hand one socket to the caller, with the application's options on it. */
static int give(const struct pool_slot *sl, int fd, const struct graft_request *req,
		struct graft_result *res)
{
	for (int i = 0; i < req->nopts; i++) {
		const struct graft_sockopt *o = &req->opts[i];

		graft_real.setsockopt(fd, o->level, o->name, o->val, o->len);
	}
	res->fd = fd;
	res->family = sl->host_family;
	res->addrlen = sl->addrlen;
	memcpy(&res->addr, &sl->addr, sl->addrlen);
	return 0;
}

/* The slot for req's endpoint, family and protocol (a new one if none). */
static int slot_for(struct pool *pl, const struct graft_request *req)
{
	struct pool_slot *sl;
	int i;

	for (i = 0; i < POOL_SLOTS; i++) {
		sl = &pl->slot[i];
		if (sl->used && sl->family == req->family &&
		    sl->protocol == req->protocol && !strcmp(sl->ep, req->ep))
			return i;
	}
	i = (int)(pl->next++ % POOL_SLOTS);
	if (pl->pending == i)
		graft_pool_settle();
	sl = &pl->slot[i];
	slot_drain(sl);
	memset(sl, 0, sizeof(*sl));
	sl->used = true;
	sl->depth = POOL_BATCH;
	sl->family = req->family;
	sl->protocol = req->protocol;
	strncpy(sl->ep, req->ep, sizeof(sl->ep) - 1);
	return i;
}

/* Stock a batch the broker sent (fds[0..n-1]), with res's address. Its age
 * counts from `born`, when it was asked for: the broker made it then from
 * the endpoint as it was, however late the batch is picked up. */
static void slot_stock(struct pool_slot *sl, const int *fds, int n,
		       const struct graft_result *res, uint64_t born)
{
	sl->host_family = res->family;
	sl->addrlen = res->addrlen;
	memcpy(&sl->addr, &res->addr, res->addrlen);
	for (int i = 0; i < n; i++) {
		struct pool_sock *ps;
		struct stat st;

		if (sl->n >= POOL_CAP || fstat(fds[i], &st) != 0) {
			graft_real.close(fds[i]);
			continue;
		}
		ps = &sl->socks[(sl->head + sl->n++) % POOL_CAP];
		ps->fd = fds[i];
		ps->ino = st.st_ino;
		ps->born = born;
	}
}

/* The oldest usable socket of the stock, or -1. */
static int slot_take(struct pool_slot *sl)
{
	uint64_t now = 0;

	while (sl->n > 0) {
		struct pool_sock ps = sl->socks[sl->head];

		sl->head = (sl->head + 1) % POOL_CAP;
		sl->n--;
		if (!still_ours(ps.fd, ps.ino))
			continue;
		if (!now)
			now = now_ns();
		if (now - ps.born > POOL_TTL_NS) {
			graft_real.close(ps.fd);
			if (sl->depth > POOL_BATCH)
				sl->depth /= 2; /* more than this thread uses */
			continue;
		}
		return ps.fd;
	}
	return -1;
}

/* Pick up the refill on its way, if it has arrived (or wait for it). */
static void pool_harvest(struct pool *pl, bool wait)
{
	int fds[GRAFT_SOCKETS_MAX], n, err;
	struct graft_result res;
	struct pool_slot *sl;

	if (pl->pending < 0)
		return;
	err = graft_broker_collect(wait, fds, &n, &res);
	if (err == EAGAIN && !wait)
		return;
	sl = &pl->slot[pl->pending];
	pl->pending = -1;
	if (err == 0)
		slot_stock(sl, fds, n, &res, pl->pending_since);
	else if ((err == EINVAL || err == EPROTO) && res.broker_replied)
		sl->off = true;
}

void graft_pool_settle(void)
{
	struct pool *pl;

	if (!pool_enabled || !(pl = (struct pool *)graft_tlist_peek(&pools)) ||
	    pl->node.pid != graft_self_pid())
		return;
	pool_harvest(pl, true);
}

/* The request for a batch of slot i's sockets (no options). */
static struct graft_request batch_request(const struct pool_slot *sl)
{
	return (struct graft_request){
		.ep = sl->ep,
		.family = sl->family,
		.type = SOCK_STREAM,
		.protocol = sl->protocol,
	};
}

/* Ask for the next batch without waiting, when the stock runs low. */
static void pool_refill_ahead(struct pool *pl, int i)
{
	struct graft_request req = batch_request(&pl->slot[i]);

	if (pl->pending >= 0 || pl->slot[i].n > pl->slot[i].depth - POOL_SLACK ||
	    pl->slot[i].off)
		return;
	if (graft_broker_post(&req, POOL_BATCH) == 0) {
		pl->pending = i;
		pl->pending_since = now_ns();
	}
}

/* Fill an empty stock with one round trip. 0, an errno or GRAFT_POOL_SKIP. */
static int slot_fill(struct pool *pl, struct pool_slot *sl,
		     struct graft_result *res)
{
	struct graft_request req = batch_request(sl);
	int fds[POOL_BATCH], n, err;
	uint64_t asked;

	pool_harvest(pl, true);
	asked = now_ns();
	err = graft_broker_request_many(&req, POOL_BATCH, fds, &n, res);
	if ((err == EINVAL || err == EPROTO) && res->broker_replied) {
		sl->off = true; /* a fixed port, or a broker without batches */
		res->msg[0] = '\0';
		return GRAFT_POOL_SKIP;
	}
	if (err)
		return err;
	slot_stock(sl, fds, n, res, asked);
	return 0;
}

int graft_pool_request(const struct graft_request *req, struct graft_result *res)
{
	struct pool_slot *sl;
	struct pool *pl;
	int i, fd, err;

	if (!pool_applies(req) || !(pl = pool_get()))
		return GRAFT_POOL_SKIP;
	i = slot_for(pl, req);
	sl = &pl->slot[i];
	if (sl->off)
		return GRAFT_POOL_SKIP;
	/* Look for the refill only once the stock is half gone: each look is a
	 * system call, and the broker needs the time anyway. */
	if (sl->n <= sl->depth / 2)
		pool_harvest(pl, false);
	fd = slot_take(sl);
	if (fd < 0 && pl->pending == i) {
		/* Dry with a refill on its way: the broker answers slower than
		 * this thread connects; keep a deeper stock from now on. */
		if (sl->depth < POOL_DEPTH_MAX)
			sl->depth *= 2;
		pool_harvest(pl, true);
		fd = slot_take(sl);
	}
	if (fd < 0) {
		err = slot_fill(pl, sl, res);
		if (err)
			return err;
		fd = slot_take(sl);
		if (fd < 0)
			return GRAFT_POOL_SKIP;
	}
	pool_refill_ahead(pl, i);
	return give(sl, fd, req, res);
}
