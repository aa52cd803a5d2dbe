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
 * The first graft of a stock waits for a few sockets (POOL_FIRST); the
 * second asks for a batch behind them without waiting (a process that
 * connects once, such as a health check, never has a batch made for it to
 * throw away at exit); after that, a stock that
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
 * thread's stock. A thread that exits hands its stock on (up to POOL_LEFT
 * sockets, with the refill on its way if it has come; the rest is closed):
 * the next thread to stock up for the same endpoint adopts it instead of
 * waiting for the broker, and the exit does not close them one by one.
 * Once a client was grafted through the stock, socket() takes from it too
 * (graft_pool_speculate, spec.c): from the slot this thread grafted its last
 * client of the family through, else the process's last endpoint.
 * GRAFT_POOL=0 turns the pool off.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
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
#define POOL_LEFT (4 * POOL_BATCH) /* sockets handed on by exited threads */
#define POOL_FIRST 4 /* an empty stock waits for this few; the batch follows */

struct pool_sock {
	int fd;
	ino_t ino;
	uint64_t born;
	bool guessed; /* ino inferred from its batch's first and last */
};

struct pool_slot {
	char ep[GRAFT_EPNAME_MAX];
	int family, protocol;
	bool used;
	bool off; /* the broker will not batch for this endpoint */
	bool foreign; /* its sockets have another family than the program's */
	bool exact;   /* a guessed inode was wrong: fstat() each socket */
	bool priming; /* stocked with POOL_FIRST only: its first batch is not in yet */
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
	int last[2]; /* 1 + the slot last grafted through, IPv4 and IPv6 */
	uint64_t pending_since; /* when it was asked for */
	struct pool_slot slot[POOL_SLOTS];
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static bool pool_enabled;

/* Set once this process grafted a client through the stock: from then on
 * socket() may hand out stocked sockets (spec.c). */
static atomic_bool spec_armed;

/* The endpoint the process last grafted a client onto, IPv4 and IPv6: what
 * a thread with no stock of its own speculates on. */
static struct {
	pthread_mutex_t lock;
	char ep[2][GRAFT_EPNAME_MAX];
	int protocol[2];
} proc_last = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A stock's clock only ages sockets against POOL_TTL_NS (seconds): the coarse
 * clock (a tick's resolution) does, without reading the clock device on
 * every hand-out and connect. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
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
			GRAFT_REAL(close)(ps->fd);
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

static void pool_exit(struct graft_tnode *node);
static void pool_harvest(struct pool *pl, bool wait);

/* Every thread's stock, for fork and thread exit. */
static struct graft_tlist pools = {
	.size = sizeof(struct pool),
	.drop = pool_drain_all,
	.exit = pool_exit,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The stocks of threads that exited, for the next thread to adopt: at most
 * POOL_LEFT sockets, aged like any stock. `count` is read without the lock
 * (a thread whose stock is dry looks here only when it is not zero). */
static struct {
	pthread_mutex_t lock;
	atomic_int count;
	pid_t pid; /* the process they belong to */
	struct pool_slot slot[POOL_SLOTS];
} left = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Close what `left` holds (a forked child's copies, or another process's). */
static void left_drain(void)
{
	for (int i = 0; i < POOL_SLOTS; i++) {
		slot_drain(&left.slot[i]);
		left.slot[i].used = false;
	}
	atomic_store(&left.count, 0);
}

/* Move sockets from the head of `from` to the tail of `to`, at most max. */
static int slot_move(struct pool_slot *to, struct pool_slot *from, int max)
{
	int moved = 0;

	while (from->n > 0 && to->n < POOL_CAP && moved < max) {
		to->socks[(to->head + to->n++) % POOL_CAP] =
			from->socks[from->head];
		from->head = (from->head + 1) % POOL_CAP;
		from->n--;
		moved++;
	}
	return moved;
}

static bool same_key(const struct pool_slot *a, const struct pool_slot *b)
{
	return a->used && b->used && a->family == b->family &&
	       a->protocol == b->protocol && !strcmp(a->ep, b->ep);
}

/* At thread exit: hand sl's sockets on to `left` (as many as fit). */
static void left_keep(struct pool_slot *sl)
{
	struct pool_slot *to = NULL;
	int i, room;

	pthread_mutex_lock(&left.lock);
	if (left.pid != graft_self_pid()) {
		left_drain();
		left.pid = graft_self_pid();
	}
	room = POOL_LEFT - atomic_load(&left.count);
	for (i = 0; i < POOL_SLOTS && !to; i++)
		if (same_key(&left.slot[i], sl))
			to = &left.slot[i];
	for (i = 0; i < POOL_SLOTS && !to; i++)
		if (!left.slot[i].used || !left.slot[i].n)
			to = &left.slot[i];
	if (to && room > 0) {
		if (!same_key(to, sl)) {
			*to = *sl;
			to->head = to->n = 0;
			to->depth = POOL_BATCH;
		}
		atomic_fetch_add(&left.count, slot_move(to, sl, room));
	}
	pthread_mutex_unlock(&left.lock);
}

/* A thread's stock at its exit: handed on, the rest closed. The refill on
 * its way is picked up first if it has come (closing the connection with
 * it unread would close its sockets one by one too). */
static void pool_exit(struct graft_tnode *node)
{
	struct pool *pl = (struct pool *)node;

	pool_harvest(pl, false);
	for (int i = 0; i < POOL_SLOTS; i++)
		if (pl->slot[i].used && pl->slot[i].n && !pl->slot[i].off)
			left_keep(&pl->slot[i]);
	pool_drain_all(node);
}

/* A dry slot takes what exited threads left for its endpoint. */
static bool left_adopt(struct pool_slot *sl)
{
	int moved = 0;

	if (!atomic_load_explicit(&left.count, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&left.lock);
	if (left.pid != graft_self_pid())
		left_drain(); /* a raw clone's copies: not this process's */
	for (int i = 0; i < POOL_SLOTS && !moved; i++) {
		if (!same_key(&left.slot[i], sl))
			continue;
		moved = slot_move(sl, &left.slot[i], POOL_CAP);
		atomic_fetch_sub(&left.count, moved);
		if (moved) { /* sl was dry: these are its sockets now */
			sl->host_family = left.slot[i].host_family;
			sl->addrlen = left.slot[i].addrlen;
			memcpy(&sl->addr, &left.slot[i].addr, sl->addrlen);
		}
	}
	pthread_mutex_unlock(&left.lock);
	return moved > 0;
}

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
	pthread_mutex_lock(&proc_last.lock);
	pthread_mutex_lock(&left.lock);
}

void graft_pool_atfork_parent(void)
{
	pthread_mutex_unlock(&left.lock);
	pthread_mutex_unlock(&proc_last.lock);
	graft_tlist_atfork_parent(&pools);
}

/* In the child: close every thread's stock and what exited threads left;
 * keep only this thread's entry. */
void graft_pool_atfork_child(void)
{
	left_drain();
	pthread_mutex_unlock(&left.lock);
	pthread_mutex_unlock(&proc_last.lock);
	graft_tlist_atfork_child(&pools);
}

/* Options that may follow the bind (the port is chosen at connect()). */
bool graft_option_fits_after_bind(int level, int name)
{
	switch (level) {
	case SOL_SOCKET:
		switch (name) {
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
		return name == IP_TOS || name == IP_TTL;
	case IPPROTO_IPV6:
		return name == IPV6_TCLASS;
	}
	return false;
}

static bool pool_applies(const struct graft_request *req)
{
	if (graft_cfg.backend != GRAFT_BACKEND_BROKER || req->type != SOCK_STREAM ||
	    req->port != 0)
		return false;
	for (int i = 0; i < req->nopts; i++)
		if (!graft_option_fits_after_bind(req->opts[i].level,
						  req->opts[i].name))
			return false;
	return true;
}

/* Hand one socket to the caller, with the application's options on it. */
static int give(const struct pool_slot *sl, int fd, const struct graft_request *req,
		struct graft_result *res)
{
	for (int i = 0; i < req->nopts; i++) {
		const struct graft_sockopt *o = &req->opts[i];

		GRAFT_REAL(setsockopt)(fd, o->level, o->name, o->val, o->len);
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

/*
 * The inode numbers of a batch, for the check before hand-out (slot_take).
 * The broker makes a batch's sockets one after another, and the kernel
 * numbers them from a per-CPU counter: when the first and the last are
 * n - 1 apart, nothing else took a number in between and the others are
 * those in between, in order, known without an fstat() each. A wrong guess
 * would fail that check as a reused descriptor does: the socket is then
 * never handed out (nor closed: it is not provably ours), and the slot stops
 * guessing.
 */
static bool batch_inodes(const struct pool_slot *sl, const int *fds, int n,
			 ino_t *ino)
{
	struct stat first, last;

	if (n < 3 || sl->exact || fstat(fds[0], &first) != 0 ||
	    fstat(fds[n - 1], &last) != 0 ||
	    last.st_ino - first.st_ino != (ino_t)(n - 1))
		return false;
	for (int i = 0; i < n; i++)
		ino[i] = first.st_ino + (ino_t)i;
	return true;
}

/* Stock a batch the broker sent (fds[0..n-1]), with res's address. Its age
 * counts from `born`, when it was asked for: the broker made it then from
 * the endpoint as it was, however late the batch is picked up. */
static void slot_stock(struct pool_slot *sl, const int *fds, int n,
		       const struct graft_result *res, uint64_t born)
{
	ino_t ino[GRAFT_SOCKETS_MAX];
	bool guessed = n <= GRAFT_SOCKETS_MAX && batch_inodes(sl, fds, n, ino);

	sl->host_family = res->family;
	sl->addrlen = res->addrlen;
	memcpy(&sl->addr, &res->addr, res->addrlen);
	if (graft_cfg.verbose)
		graft_trace("stock: %d sockets of %s%s", n, sl->ep,
			    guessed ? "" : ", inode numbers read one by one");
	for (int i = 0; i < n; i++) {
		struct pool_sock *ps;
		struct stat st;

		if (sl->n >= POOL_CAP ||
		    (!guessed && fstat(fds[i], &st) != 0)) {
			GRAFT_REAL(close)(fds[i]);
			continue;
		}
		ps = &sl->socks[(sl->head + sl->n++) % POOL_CAP];
		ps->fd = fds[i];
		ps->ino = guessed ? ino[i] : st.st_ino;
		ps->guessed = guessed;
		ps->born = born;
	}
}

/* The oldest usable socket of the stock (and when it was made), or -1. */
static int slot_take(struct pool_slot *sl, uint64_t *born)
{
	uint64_t now = 0;

	while (sl->n > 0) {
		struct pool_sock ps = sl->socks[sl->head];

		sl->head = (sl->head + 1) % POOL_CAP;
		sl->n--;
		if (!still_ours(ps.fd, ps.ino)) {
			if (ps.guessed)
				sl->exact = true;
			continue;
		}
		if (!now)
			now = now_ns();
		if (now - ps.born > POOL_TTL_NS) {
			GRAFT_REAL(close)(ps.fd);
			if (sl->depth > POOL_BATCH)
				sl->depth /= 2; /* more than this thread uses */
			continue;
		}
		*born = ps.born;
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
	sl->priming = false;
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

/*
 * The stock at which the next batch is asked for: POOL_SLACK below the
 * depth, or, while only the first few are in, half of them (a process that
 * connects once, such as a health check, never asks; one that connects
 * again asks at its second take).
 */
static int low_water(const struct pool_slot *sl)
{
	return sl->priming ? POOL_FIRST / 2 : sl->depth - POOL_SLACK;
}

/* Ask for the next batch without waiting, when the stock runs low. */
static void pool_refill_ahead(struct pool *pl, int i)
{
	struct graft_request req = batch_request(&pl->slot[i]);

	if (pl->pending >= 0 || pl->slot[i].n > low_water(&pl->slot[i]) ||
	    pl->slot[i].off)
		return;
	if (graft_broker_post(&req, POOL_BATCH) == 0) {
		pl->pending = i;
		pl->pending_since = now_ns();
	}
}

/*
 * Fill an empty stock with one round trip. It asks for POOL_FIRST sockets,
 * not a batch: the broker makes a batch in a millisecond or two, which a
 * thread's first connect would wait for; pool_refill_ahead() asks for the
 * batch at the next take, without waiting, and the connects after it use
 * the few left meanwhile. 0, an errno or GRAFT_POOL_SKIP.
 */
static int slot_fill(struct pool *pl, struct pool_slot *sl,
		     struct graft_result *res)
{
	struct graft_request req = batch_request(sl);
	int fds[POOL_FIRST], n, err;
	uint64_t asked;

	pool_harvest(pl, true);
	asked = now_ns();
	err = graft_broker_request_many(&req, POOL_FIRST, fds, &n, res);
	if ((err == EINVAL || err == EPROTO) && res->broker_replied) {
		sl->off = true; /* a fixed port, or a broker without batches */
		res->msg[0] = '\0';
		return GRAFT_POOL_SKIP;
	}
	if (err)
		return err;
	slot_stock(sl, fds, n, res, asked);
	sl->priming = true;
	return 0;
}

/*
 * Take one socket of slot i: pick up a refill that has arrived, wait for one
 * on its way when dry, fill an empty stock with one round trip (only when
 * `fill`), and ask for the next batch ahead of need. 0 with *fd (and its
 * *born), an errno, or GRAFT_POOL_SKIP.
 */
static int pool_take(struct pool *pl, int i, bool fill,
		     struct graft_result *res, int *fd, uint64_t *born)
{
	struct pool_slot *sl = &pl->slot[i];
	int err;

	/* Look for the refill only once the stock is half gone: each look is a
	 * system call, and the broker needs the time anyway. */
	if (sl->n <= sl->depth / 2)
		pool_harvest(pl, false);
	*fd = slot_take(sl, born);
	if (*fd < 0 && pl->pending == i) {
		/* Dry with a refill on its way: the broker answers slower than
		 * this thread connects; keep a deeper stock from now on. Not
		 * for the first batch behind POOL_FIRST: those few are meant
		 * to run out before it comes. */
		if (sl->depth < POOL_DEPTH_MAX && !sl->priming)
			sl->depth *= 2;
		pool_harvest(pl, true);
		*fd = slot_take(sl, born);
	}
	if (*fd < 0 && left_adopt(sl))
		*fd = slot_take(sl, born);
	if (*fd < 0 && !fill)
		return GRAFT_POOL_SKIP;
	if (*fd < 0) {
		err = slot_fill(pl, sl, res);
		if (err)
			return err;
		*fd = slot_take(sl, born);
		if (*fd < 0)
			return GRAFT_POOL_SKIP;
	}
	pool_refill_ahead(pl, i);
	return 0;
}

static int fam_index(int family)
{
	return family == AF_INET6;
}

/* Protocols 0 and IPPROTO_TCP make the same stream socket. */
static bool same_tcp(int a, int b)
{
	return (a ? a : IPPROTO_TCP) == (b ? b : IPPROTO_TCP);
}

/* This thread grafted a client through slot i: speculate on it from now on,
 * and so may a thread of this process with no stock of its own. */
static void pool_remember(struct pool *pl, int i)
{
	const struct pool_slot *sl = &pl->slot[i];
	int f = fam_index(sl->family);

	if (pl->last[f] == i + 1 && atomic_load_explicit(&spec_armed,
							 memory_order_relaxed))
		return;
	pl->last[f] = i + 1;
	pthread_mutex_lock(&proc_last.lock);
	memcpy(proc_last.ep[f], sl->ep, sizeof(sl->ep));
	proc_last.protocol[f] = sl->protocol;
	pthread_mutex_unlock(&proc_last.lock);
	atomic_store(&spec_armed, true);
}

int graft_pool_request(const struct graft_request *req, struct graft_result *res)
{
	struct pool *pl;
	uint64_t born;
	int i, fd, err;

	if (!pool_applies(req) || !(pl = pool_get()))
		return GRAFT_POOL_SKIP;
	i = slot_for(pl, req);
	if (pl->slot[i].off)
		return GRAFT_POOL_SKIP;
	err = pool_take(pl, i, true, res, &fd, &born);
	if (err)
		return err;
	pool_remember(pl, i);
	return give(&pl->slot[i], fd, req, res);
}

/* The slot to speculate on for family: this thread's last, else the
 * process's last endpoint (a new slot of this thread), or -1. */
static int spec_slot(struct pool *pl, int family, int protocol)
{
	struct graft_request req = { .family = family, .type = SOCK_STREAM };
	char ep[GRAFT_EPNAME_MAX];
	int f = fam_index(family), i = pl->last[f] - 1;

	if (i >= 0 && pl->slot[i].used && pl->slot[i].family == family)
		return i;
	pthread_mutex_lock(&proc_last.lock);
	memcpy(ep, proc_last.ep[f], sizeof(ep));
	req.protocol = proc_last.protocol[f];
	pthread_mutex_unlock(&proc_last.lock);
	if (!ep[0] || !same_tcp(req.protocol, protocol))
		return -1;
	req.ep = ep;
	i = slot_for(pl, &req);
	pl->last[f] = i + 1;
	return i;
}

int graft_pool_speculate(int family, int protocol, struct graft_spec_sock *out)
{
	struct graft_result res;
	struct pool_slot *sl;
	struct pool *pl;
	int i, err;

	if (!atomic_load_explicit(&spec_armed, memory_order_relaxed) ||
	    !(pl = pool_get()) || (i = spec_slot(pl, family, protocol)) < 0)
		return ENOENT;
	sl = &pl->slot[i];
	if (sl->off || sl->foreign || !same_tcp(sl->protocol, protocol))
		return ENOENT;
	/* Never a round trip of its own: an empty stock (a new thread, an
	 * idle one whose stock aged out, a broker that went away) makes a
	 * namespace socket, whose connect() fills the stock as before. */
	memset(&res, 0, sizeof(res));
	err = pool_take(pl, i, false, &res, &out->fd, &out->born);
	if (err)
		return err == GRAFT_POOL_SKIP ? ENOENT : err;
	if (sl->host_family != family) {
		/* Another family on the host (an IPv4 endpoint under an IPv6
		 * socket, translated at each call): not speculated. */
		GRAFT_REAL(close)(out->fd);
		sl->foreign = true;
		return ENOENT;
	}
	out->host_family = sl->host_family;
	memcpy(out->ep, sl->ep, sizeof(out->ep));
	return 0;
}

bool graft_pool_fresh(uint64_t born)
{
	return now_ns() - born <= POOL_TTL_NS;
}
