/* SPDX-License-Identifier: MIT */
/*
 * kernel.c — the kernel backend: an AF_GRAFT socket from af_graft.ko.
 * The module keeps the options set before bind() and applies them to the host
 * socket it creates when the graft socket is bound to an endpoint. Once a
 * process grafted a client, socket() may make the AF_GRAFT socket at once
 * (speculative sockets, spec.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "af_graft.h"
#include "backend.h"
#include "graft_env.h"
#include "libgraft.h"

#ifndef SOL_GRAFT
#define SOL_GRAFT 256
#endif
#ifndef GRAFT_NAME_TRANSPARENT
#define GRAFT_NAME_TRANSPARENT 5
#endif
#ifndef GRAFT_PORT_HINT
#define GRAFT_PORT_HINT 6
#endif
#ifndef GRAFT_REUSEPORT
#define GRAFT_REUSEPORT 7
#endif

/* How long a speculative socket may wait for its connect(). */
#define KSPEC_TTL_NS (2ULL * 1000 * 1000 * 1000)

/*
 * Kernels before 6.2 refuse SO_REUSEPORT on an AF_GRAFT socket in the
 * socket layer (EOPNOTSUPP) before af_graft sees it: af_graft takes it as
 * GRAFT_REUSEPORT there, with the same policy.
 */
static int set_option(int fd, const struct graft_sockopt *o)
{
	int rc = GRAFT_REAL(setsockopt)(fd, o->level, o->name, o->val, o->len);

	if (rc < 0 && errno == EOPNOTSUPP && o->level == SOL_SOCKET &&
	    o->name == SO_REUSEPORT)
		rc = GRAFT_REAL(setsockopt)(fd, SOL_GRAFT, GRAFT_REUSEPORT,
					   o->val, o->len);
	return rc;
}

/*
 * The AF_GRAFT socket of req, options replayed, bound to req->ep; fdflags:
 * its SOCK_CLOEXEC/SOCK_NONBLOCK.
 */
static int kernel_bound(const struct graft_request *req, int fdflags,
			struct graft_result *res)
{
	struct sockaddr_gr sgr;
	int fd, err, port = req->port, one = 1;
	uint16_t i;

	fd = GRAFT_REAL(socket)(AF_GRAFT, req->type | fdflags, req->protocol);
	if (fd < 0) {
		err = errno;
		snprintf(res->msg, sizeof(res->msg),
			 "cannot create an AF_GRAFT socket (%s); is af_graft.ko "
			 "loaded?",
			 strerror(err));
		return -(err == EAFNOSUPPORT ? EADDRNOTAVAIL : err);
	}
	for (i = 0; i < req->nopts; i++) {
		const struct graft_sockopt *o = &req->opts[i];

		if (set_option(fd, o) < 0) {
			err = errno;
			snprintf(res->msg, sizeof(res->msg),
				 "cannot apply socket option %d/%d (%s)",
				 o->level, o->name, strerror(err));
			goto fail;
		}
	}
	/* 0 is af_graft's default: no call for it. */
	if (port != 0 && GRAFT_REAL(setsockopt)(fd, SOL_GRAFT, GRAFT_PORT_HINT,
					       &port, sizeof(port)) < 0) {
		err = errno;
		snprintf(res->msg, sizeof(res->msg),
			 "cannot pass port %d to af_graft (%s)", port,
			 strerror(err));
		goto fail;
	}
	/* The application believes it holds an INET socket: getsockname()
	 * must give the host address, not the endpoint name. */
	if (GRAFT_REAL(setsockopt)(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, &one,
				  sizeof(one)) < 0)
		graft_trace("af_graft does not take GRAFT_NAME_TRANSPARENT: %s",
			    strerror(errno));
	memset(&sgr, 0, sizeof(sgr));
	sgr.sgr_family = AF_GRAFT;
	strncpy(sgr.sgr_epname, req->ep, sizeof(sgr.sgr_epname) - 1);
	if (GRAFT_REAL(bind)(fd, (struct sockaddr *)&sgr, sizeof(sgr)) < 0) {
		err = errno;
		if (err == EADDRNOTAVAIL)
			snprintf(res->msg, sizeof(res->msg),
				 "no endpoint \"%s\" in this network namespace",
				 req->ep);
		else
			snprintf(res->msg, sizeof(res->msg), "%s",
				 strerror(err));
		goto fail;
	}
	return fd;
fail:
	GRAFT_REAL(close)(fd);
	return -err;
}

/*
 * Speculative sockets (spec.c) for this backend: once the process grafted a
 * stream client onto an endpoint that leaves the host port to connect()
 * (a dynamic one, no port asked for), socket() may hand out an AF_GRAFT
 * socket already bound to it. Per family, the endpoint last grafted onto.
 * The lock is only ever tried: a child forked while another thread held it
 * simply does not speculate.
 */
static struct {
	pthread_mutex_t lock;
	char ep[2][GRAFT_EPNAME_MAX];
	int protocol[2];
} kspec = { .lock = PTHREAD_MUTEX_INITIALIZER };
static atomic_bool kspec_armed;
static pthread_once_t kspec_once = PTHREAD_ONCE_INIT;
static bool kspec_enabled;

static void kspec_init(void)
{
	const char *v = getenv(GRAFT_ENV_POOL);

	kspec_enabled = !(v && !strcmp(v, "0"));
}

/*
 * Ages of speculative sockets: seconds matter, not nanoseconds. The coarse
 * clock is read in the vDSO whatever the clock source; CLOCK_MONOTONIC is
 * a system call and a clock device read where the source has no vDSO mode
 * (the HPET of an emulated machine: 2 us, twice per connection).
 */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Bound with port 0 and the same family: a client socket to speculate on. */
static bool kspec_fits(const struct graft_request *req,
		       const struct graft_result *res)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&res->addr;
	const struct sockaddr_in6 *sin6 =
		(const struct sockaddr_in6 *)&res->addr;
	uint16_t i;

	if (req->type != SOCK_STREAM || req->port != 0 ||
	    res->family != req->family || !res->addrlen)
		return false;
	if ((res->family == AF_INET && sin->sin_port) ||
	    (res->family == AF_INET6 && sin6->sin6_port) ||
	    (res->family != AF_INET && res->family != AF_INET6))
		return false;
	for (i = 0; i < req->nopts; i++)
		if (!graft_option_fits_after_bind(req->opts[i].level,
						  req->opts[i].name))
			return false;
	return true;
}

static void kspec_remember(const struct graft_request *req,
			   const struct graft_result *res)
{
	int f = req->family == AF_INET6;

	pthread_once(&kspec_once, kspec_init);
	if (!kspec_enabled || !kspec_fits(req, res) ||
	    pthread_mutex_trylock(&kspec.lock))
		return;
	strncpy(kspec.ep[f], req->ep, GRAFT_EPNAME_MAX - 1);
	kspec.protocol[f] = req->protocol ? req->protocol : IPPROTO_TCP;
	pthread_mutex_unlock(&kspec.lock);
	atomic_store(&kspec_armed, true);
}

/*
 * The socket is made with the descriptor flags the program's socket() asked
 * for: no fcntl() after it (a system call per connection).
 */
int graft_kernel_speculate(int family, int type, int protocol,
			   struct graft_spec_sock *out)
{
	struct graft_request req = { .family = family, .type = SOCK_STREAM };
	int f = family == AF_INET6, fd;
	char ep[GRAFT_EPNAME_MAX];
	struct graft_result res;

	if (!atomic_load_explicit(&kspec_armed, memory_order_relaxed) ||
	    pthread_mutex_trylock(&kspec.lock))
		return ENOENT;
	memcpy(ep, kspec.ep[f], sizeof(ep));
	req.protocol = kspec.protocol[f];
	pthread_mutex_unlock(&kspec.lock);
	if (!ep[0] || (protocol && protocol != req.protocol))
		return ENOENT;
	req.ep = ep;
	fd = kernel_bound(&req, type & (SOCK_CLOEXEC | SOCK_NONBLOCK), &res);
	if (fd < 0) {
		graft_trace("socket(): cannot bind a socket to %s: %s", ep,
			    res.msg);
		return -fd;
	}
	out->fd = fd;
	out->typed = true;
	out->host_family = family;
	out->born = now_ns();
	memcpy(out->ep, ep, sizeof(out->ep));
	return 0;
}

/* The endpoint may be redefined: a socket bound to it long ago is not used. */
bool graft_kernel_fresh(uint64_t born)
{
	return now_ns() - born <= KSPEC_TTL_NS;
}

int graft_kernel_request(const struct graft_request *req,
			 struct graft_result *res)
{
	socklen_t len;
	int fd;

	res->fd = -1;
	fd = kernel_bound(req, SOCK_CLOEXEC, res);
	if (fd < 0)
		return -fd;
	res->fd = fd;
	res->family = req->family;
	len = sizeof(res->addr);
	if (GRAFT_REAL(getsockname)(fd, (struct sockaddr *)&res->addr, &len) == 0 &&
	    len <= sizeof(res->addr) &&
	    (res->addr.ss_family == AF_INET ||
	     res->addr.ss_family == AF_INET6 ||
	     res->addr.ss_family == AF_UNIX)) {
		res->family = res->addr.ss_family;
		res->addrlen = len;
	}
	kspec_remember(req, res);
	return 0;
}
