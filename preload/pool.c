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
 * Each thread keeps up to POOL_SLOTS (endpoint, family, protocol) stocks of
 * at most POOL_BATCH sockets; a stock older than POOL_TTL_NS is thrown away
 * (so an endpoint redefined in the broker is picked up), a forked child
 * discards what it inherited, a stocked descriptor is checked by inode before
 * it is handed out (an application that closed it, or reused the number, is
 * never given someone else's file), and a thread's stock is closed when the
 * thread exits. GRAFT_POOL=0 turns the pool off.
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

#define POOL_BATCH GRAFT_SOCKETS_MAX
#define POOL_SLOTS 4
#define POOL_TTL_NS (2ULL * 1000 * 1000 * 1000)

struct pool_slot {
	char ep[GRAFT_EPNAME_MAX];
	int family, protocol;
	bool used;
	bool off; /* the broker will not batch for this endpoint */
	int n;
	int fds[POOL_BATCH];
	ino_t inos[POOL_BATCH];
	uint64_t born;
	int host_family;
	socklen_t addrlen;
	struct sockaddr_storage addr;
};

struct pool {
	pid_t pid;
	unsigned next;
	struct pool_slot slot[POOL_SLOTS];
};

static pthread_key_t pool_key;
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
	for (int i = 0; i < sl->n; i++)
		if (still_ours(sl->fds[i], sl->inos[i]))
			graft_real.close(sl->fds[i]);
	sl->n = 0;
}

static void pool_destroy(void *p)
{
	struct pool *pl = p;

	if (pl->pid == getpid())
		for (int i = 0; i < POOL_SLOTS; i++)
			slot_drain(&pl->slot[i]);
	free(pl);
}

static void pool_init(void)
{
	const char *v = getenv(GRAFT_ENV_POOL);

	pool_enabled = !(v && !strcmp(v, "0")) &&
		       pthread_key_create(&pool_key, pool_destroy) == 0;
}

static struct pool *pool_get(void)
{
	struct pool *pl;
	pid_t pid;

	pthread_once(&pool_once, pool_init);
	if (!pool_enabled)
		return NULL;
	pid = getpid();
	pl = pthread_getspecific(pool_key);
	if (!pl) {
		pl = calloc(1, sizeof(*pl));
		if (!pl || pthread_setspecific(pool_key, pl) != 0) {
			free(pl);
			return NULL;
		}
		pl->pid = pid;
	}
	if (pl->pid != pid) {
		/* A forked child: what it inherited is its own copy; let it go. */
		for (int i = 0; i < POOL_SLOTS; i++) {
			slot_drain(&pl->slot[i]);
			pl->slot[i].used = false;
		}
		pl->pid = pid;
	}
	return pl;
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

static struct pool_slot *slot_for(struct pool *pl, const struct graft_request *req)
{
	struct pool_slot *sl;

	for (int i = 0; i < POOL_SLOTS; i++) {
		sl = &pl->slot[i];
		if (sl->used && sl->family == req->family &&
		    sl->protocol == req->protocol && !strcmp(sl->ep, req->ep))
			return sl;
	}
	sl = &pl->slot[pl->next++ % POOL_SLOTS];
	slot_drain(sl);
	memset(sl, 0, sizeof(*sl));
	sl->used = true;
	sl->family = req->family;
	sl->protocol = req->protocol;
	strncpy(sl->ep, req->ep, sizeof(sl->ep) - 1);
	return sl;
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

int graft_pool_request(const struct graft_request *req, struct graft_result *res)
{
	struct graft_request bare = *req;
	struct pool_slot *sl;
	struct pool *pl;
	int fds[POOL_BATCH], n, err;

	if (!pool_applies(req) || !(pl = pool_get()))
		return GRAFT_POOL_SKIP;
	sl = slot_for(pl, req);
	if (sl->off)
		return GRAFT_POOL_SKIP;
	if (sl->n && now_ns() - sl->born > POOL_TTL_NS)
		slot_drain(sl);
	while (sl->n > 0) {
		n = --sl->n;
		if (still_ours(sl->fds[n], sl->inos[n]))
			return give(sl, sl->fds[n], req, res);
	}

	/* Empty: one round trip fills the stock. Options go on afterwards. */
	bare.nopts = 0;
	bare.opts = NULL;
	err = graft_broker_request_many(&bare, POOL_BATCH, fds, &n, res);
	if ((err == EINVAL || err == EPROTO) && res->broker_replied) {
		sl->off = true; /* a fixed port, or a broker without batches */
		res->msg[0] = '\0';
		return GRAFT_POOL_SKIP;
	}
	if (err)
		return err;
	sl->host_family = res->family;
	sl->addrlen = res->addrlen;
	memcpy(&sl->addr, &res->addr, res->addrlen);
	sl->born = now_ns();
	for (int i = 1; i < n; i++) {
		struct stat st;

		if (fstat(fds[i], &st) != 0) {
			graft_real.close(fds[i]);
			continue;
		}
		sl->inos[sl->n] = st.st_ino;
		sl->fds[sl->n++] = fds[i];
	}
	return give(sl, fds[0], req, res);
}
