/* SPDX-License-Identifier: MIT */
/*
 * spec.c — speculative client sockets: socket() served from the stock.
 *
 * Once a process has grafted a TCP client through the stock (pool.c), its
 * next socket(AF_INET/AF_INET6, SOCK_STREAM) is likely to be another client
 * for the same endpoint. socket() then hands out a stocked host socket
 * straight away (GRAFT_SPECULATIVE), so the connect() that follows is a
 * plain connect(): no namespace socket made for nothing, no dup3(), no
 * options replayed. A speculative socket used for anything else (bind(),
 * listen(), a connect or send to a destination no mapping sends through its
 * endpoint, an option that must precede the bind, a dup) first gets a real
 * namespace socket in its place, with the options recorded so far and its
 * descriptor flags (spec_swap), and goes on as a candidate. With the
 * kernel backend the "stocked" socket is an AF_GRAFT socket that kernel.c
 * makes and binds to the endpoint right then (no stock kept).
 *
 * socket() never starts a round trip to the broker: with the stock empty
 * (a new thread, an idle one whose stock aged out, a broker gone away) it
 * makes the namespace socket, whose connect() grafts and refills as before.
 * Adaptive: when more than half of the process's last SPEC_WINDOW
 * speculative sockets were swapped back or closed unused, speculation stops
 * for a while (1 s, doubling up to 64 s while it keeps missing).
 * GRAFT_POOL=0 turns it off with the stock.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "hooks.h"
#include "spec.h"

#define SPEC_WINDOW 32
#define SPEC_PAUSE_MIN_NS (1000ULL * 1000 * 1000)
#define SPEC_PAUSE_MAX_NS (64ULL * SPEC_PAUSE_MIN_NS)

/* Outcomes of the last speculative sockets: bits 0-31 one per socket (1 =
 * not used for a grafted connect), bits 32+ how many are recorded. */
static atomic_uint_fast64_t spec_hist;
static atomic_uint_fast64_t spec_paused_until; /* CLOCK_MONOTONIC ns, 0 = no */
static atomic_uint_fast64_t spec_pause_ns = SPEC_PAUSE_MIN_NS;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void spec_pause(const char *why)
{
	uint64_t pause = atomic_load(&spec_pause_ns);

	atomic_store(&spec_hist, 0);
	atomic_store(&spec_paused_until, now_ns() + pause);
	atomic_store(&spec_pause_ns, pause * 2 > SPEC_PAUSE_MAX_NS
					     ? SPEC_PAUSE_MAX_NS
					     : pause * 2);
	graft_trace("socket(): no stocked sockets for %llu ms: %s",
		    (unsigned long long)(pause / 1000000), why);
}

void graft_spec_outcome(bool used)
{
	uint64_t old = atomic_load(&spec_hist), new;
	uint32_t bits, mask;
	unsigned int n;

	do {
		bits = (uint32_t)old << 1 | !used;
		n = (unsigned int)(old >> 32) + 1;
		if (n > SPEC_WINDOW)
			n = SPEC_WINDOW;
		new = (uint64_t)n << 32 | bits;
	} while (!atomic_compare_exchange_weak(&spec_hist, &old, new));
	mask = n >= 32 ? UINT32_MAX : (1U << n) - 1;
	if (__builtin_popcount(bits & mask) > SPEC_WINDOW / 2)
		spec_pause("most speculative sockets were not used for a "
			   "grafted connect()");
	else if (n == SPEC_WINDOW)
		atomic_store(&spec_pause_ns, SPEC_PAUSE_MIN_NS);
}

/* A stocked socket of the backend's, or an errno (ENOENT: none to give). */
static int spec_take(int family, int type, int protocol,
		     struct graft_spec_sock *out)
{
	out->typed = false;
	if (graft_cfg.backend == GRAFT_BACKEND_KERNEL)
		return graft_kernel_speculate(family, type, protocol, out);
	return graft_pool_speculate(family, protocol, out);
}

bool graft_spec_fresh(uint64_t born)
{
	if (graft_cfg.backend == GRAFT_BACKEND_KERNEL)
		return graft_kernel_fresh(born);
	return graft_pool_fresh(born);
}

int graft_spec_socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), err;
	uint64_t paused = atomic_load(&spec_paused_until);
	struct graft_spec_sock sp;
	struct graft_sock *s;

	if (base != SOCK_STREAM || (protocol && protocol != IPPROTO_TCP) ||
	    (paused && now_ns() < paused))
		return -1;
	err = spec_take(domain, type, protocol, &sp);
	if (err) {
		if (err != ENOENT)
			spec_pause(strerror(err));
		return -1;
	}
	if (!sp.typed && ((!(type & SOCK_CLOEXEC) &&
			   GRAFT_REAL(fcntl)(sp.fd, F_SETFD, 0) < 0) ||
			  ((type & SOCK_NONBLOCK) &&
			   GRAFT_REAL(fcntl)(sp.fd, F_SETFL, O_NONBLOCK) < 0)))
		goto fail;
	graft_fdt_lock();
	s = graft_fdt_new(sp.fd, domain, base, protocol);
	if (!s) {
		graft_fdt_unlock();
		goto fail;
	}
	s->state = GRAFT_SPECULATIVE;
	s->host_family = sp.host_family;
	s->born = sp.born;
	memcpy(s->ep, sp.ep, sizeof(s->ep));
	graft_fdt_unlock();
	if (graft_cfg.verbose)
		graft_trace("socket(): fd %d is a stocked socket of %s", sp.fd,
			    sp.ep);
	return sp.fd;
fail:
	GRAFT_REAL(close)(sp.fd);
	return -1;
}

/* A namespace socket like the program asked for, with fd's O_NONBLOCK and
 * the options recorded so far; *cloexec gets fd's FD_CLOEXEC. */
static int spec_replacement(int fd, const struct graft_sock *snap,
			    bool *cloexec)
{
	int fl = GRAFT_REAL(fcntl)(fd, F_GETFL);
	int fdfl = GRAFT_REAL(fcntl)(fd, F_GETFD);
	int nfd;

	if (fl < 0 || fdfl < 0)
		return -1;
	nfd = GRAFT_REAL(socket)(snap->family,
				snap->type | SOCK_CLOEXEC |
					((fl & O_NONBLOCK) ? SOCK_NONBLOCK : 0),
				snap->protocol);
	if (nfd < 0)
		return -1;
	/* Each was set on the stocked socket without an error. */
	for (uint16_t i = 0; i < snap->nopts; i++)
		GRAFT_REAL(setsockopt)(nfd, snap->opts[i].level,
				      snap->opts[i].name, snap->opts[i].val,
				      snap->opts[i].len);
	*cloexec = fdfl & FD_CLOEXEC;
	return nfd;
}

/* Put nfd on fd if fd still holds the socket snap was taken from (else fd
 * was closed meanwhile: nothing to do). 0 or an errno. */
static int spec_swap(int fd, const struct graft_sock *snap, int nfd,
		     bool cloexec)
{
	struct graft_sock *s;
	int err = 0;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->id == snap->id && s->state == GRAFT_GRAFTING) {
		if (GRAFT_REAL(dup3)(nfd, fd, cloexec ? O_CLOEXEC : 0) < 0) {
			err = errno;
			s->state = GRAFT_SPECULATIVE;
		} else {
			s->state = GRAFT_CANDIDATE;
			s->host_family = s->family;
			s->ep[0] = '\0';
		}
	}
	graft_fdt_unlock();
	GRAFT_REAL(close)(nfd);
	return err;
}

int graft_spec_settle(int fd, const char *why)
{
	struct graft_sock snap, *s;
	int nfd, err, saved = errno;
	bool cloexec;

	if (graft_nothing_tracked())
		return 0;
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (!s || s->state != GRAFT_SPECULATIVE) {
		graft_fdt_unlock();
		return 0;
	}
	snap = *s;
	s->state = GRAFT_GRAFTING;
	graft_fdt_unlock();

	nfd = spec_replacement(fd, &snap, &cloexec);
	if (nfd < 0) {
		err = errno;
		graft_fdt_lock();
		s = graft_fdt_get(fd);
		if (s && s->id == snap.id && s->state == GRAFT_GRAFTING)
			s->state = GRAFT_SPECULATIVE;
		graft_fdt_unlock();
	} else {
		err = spec_swap(fd, &snap, nfd, cloexec);
	}
	if (err) {
		graft_error("cannot put a namespace socket on fd %d (%s): %s",
			    fd, why, strerror(err));
		errno = err;
		return -1;
	}
	graft_spec_outcome(false);
	if (graft_cfg.verbose)
		graft_trace("%s: fd %d gets a namespace socket in place of "
			    "the stocked one",
			    why, fd);
	errno = saved;
	return 0;
}
