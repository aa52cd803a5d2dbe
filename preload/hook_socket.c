/* SPDX-License-Identifier: MIT */
/*
 * hook_socket.c — socket(), setsockopt(), getsockopt(): a tracked socket is
 * created as a candidate, and the options set on it are recorded for the graft.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "af_graft.h"
#include "hooks.h"
#include "spec.h"

static bool is_tracked_socket(int domain, int type)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

	return (domain == AF_INET || domain == AF_INET6) &&
	       (base == SOCK_STREAM || base == SOCK_DGRAM);
}

int graft_socket_impl(int domain, int type, int protocol)
{
	struct graft_sock *s;
	int fd;

	graft_init();
	/* Not ours: straight through, before any lock. A stale entry on the
	 * new number (a close we did not see) is caught where it matters,
	 * see graft_name_impl(). */
	if (graft_cfg.passthrough || !is_tracked_socket(domain, type)) {
		fd = GRAFT_REAL(socket)(domain, type, protocol);
		if (fd >= 0 && graft_cfg.verbose && !graft_cfg.passthrough &&
		    (domain == AF_INET || domain == AF_INET6))
			graft_trace("socket(): fd %d (family %d, type %d) left "
				    "alone: only TCP and UDP sockets are grafted",
				    fd, domain, type);
		return fd;
	}
	fd = graft_spec_socket(domain, type, protocol);
	if (fd >= 0)
		return fd;
	fd = GRAFT_REAL(socket)(domain, type, protocol);
	if (fd < 0)
		return fd;
	graft_fdt_lock();
	s = graft_fdt_new(fd, domain, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC),
			  protocol);
	if (!s)
		graft_fdt_drop(fd);
	graft_fdt_unlock();
	if (!s)
		graft_trace("socket(): out of memory, fd %d is not tracked", fd);
	return fd;
}

/* Options whose value means nothing in another process. */
static bool option_is_local(int level, int name)
{
	if (level != SOL_SOCKET)
		return false;
	switch (name) {
	case SO_ATTACH_FILTER:
	case SO_ATTACH_BPF:
	case SO_ATTACH_REUSEPORT_CBPF:
	case SO_ATTACH_REUSEPORT_EBPF:
	case SO_DETACH_FILTER:
		return true;
	}
	return false;
}

/* Can this option be recorded (replayed onto another socket later)? */
static bool option_recordable(const struct graft_sock *s, int level, int name,
			      const void *val, socklen_t len)
{
	if (!val || len == 0 || len > GRAFT_SOCKOPT_VAL_MAX ||
	    option_is_local(level, name))
		return false;
	for (uint16_t i = 0; i < s->nopts; i++)
		if (s->opts[i].level == level && s->opts[i].name == name)
			return true;
	return s->nopts < GRAFT_SOCKOPT_MAX;
}

static void record_option(int fd, struct graft_sock *s, int level, int name,
			  const void *val, socklen_t len)
{
	struct graft_sockopt *o = NULL;
	uint16_t i;

	if (!option_recordable(s, level, name, val, len)) {
		graft_trace("setsockopt(): fd %d option %d/%d (%u bytes) "
			    "cannot be passed on to the graft",
			    fd, level, name, (unsigned int)len);
		return;
	}
	for (i = 0; i < s->nopts; i++)
		if (s->opts[i].level == level && s->opts[i].name == name)
			o = &s->opts[i];
	if (!o)
		o = &s->opts[s->nopts++];
	memset(o, 0, sizeof(*o));
	o->level = level;
	o->name = name;
	o->len = len;
	memcpy(o->val, val, len);
}

/*
 * Before an option on fd: 1 when fd is speculative and keeps its stocked
 * socket (an option that may follow the bind, recorded for a swap back),
 * 0 when it is not speculative (any more: an option that must precede the
 * bind, or that cannot be recorded, swaps it back first), -1 with errno
 * when the swap failed. *after: whether the entry needs a look after the
 * call (to record the option, or for a unix endpoint's INET options).
 */
static int spec_option(int fd, int level, int name, const void *val,
		       socklen_t len, bool *after)
{
	struct graft_sock *s;
	bool spec, keep = false;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	spec = s && s->state == GRAFT_SPECULATIVE;
	if (spec)
		keep = graft_option_fits_after_bind(level, name) &&
		       option_recordable(s, level, name, val, len);
	*after = s && (spec || s->state == GRAFT_CANDIDATE ||
		       s->state == GRAFT_GRAFTING ||
		       (s->state == GRAFT_GRAFTED && s->host_family == AF_UNIX));
	graft_fdt_unlock();
	if (!spec)
		return 0;
	if (keep)
		return 1;
	return graft_spec_settle(fd, "setsockopt()");
}

static bool is_inet_level(int level)
{
	return level == IPPROTO_IP || level == IPPROTO_IPV6 ||
	       level == IPPROTO_TCP || level == IPPROTO_UDP;
}

int graft_setsockopt_impl(int fd, int level, int name, const void *val,
				 socklen_t len)
{
	struct graft_sock *s;
	bool fake_ok = false, after;
	int rc, err, spec;

	graft_init();
	if (graft_nothing_tracked())
		return GRAFT_REAL(setsockopt)(fd, level, name, val, len);
	spec = spec_option(fd, level, name, val, len, &after);
	if (spec < 0)
		return -1;
	rc = GRAFT_REAL(setsockopt)(fd, level, name, val, len);
	/* Refused by the host socket: the namespace's decides. */
	if (rc < 0 && spec && graft_spec_settle(fd, "setsockopt()") == 0)
		rc = GRAFT_REAL(setsockopt)(fd, level, name, val, len);
	if (!after) /* grafted onto an INET endpoint, passed, or untracked */
		return rc;
	err = errno;
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && rc == 0 &&
	    (s->state == GRAFT_CANDIDATE || s->state == GRAFT_SPECULATIVE))
		record_option(fd, s, level, name, val, len);
	/* An INET option on a socket now living on a unix endpoint: the
	 * application cannot know, and nothing would honour it. */
	if (s && rc < 0 && s->state == GRAFT_GRAFTED &&
	    s->host_family == AF_UNIX && is_inet_level(level))
		fake_ok = true;
	graft_fdt_unlock();
	if (fake_ok) {
		graft_trace("setsockopt(): fd %d is on a unix endpoint, "
			    "option %d/%d ignored",
			    fd, level, name);
		return 0;
	}
	errno = err;
	return rc;
}

int graft_getsockopt_impl(int fd, int level, int name, void *val,
				 socklen_t *len)
{
	struct graft_sock *s;
	int rc, err, fake = -1, real;
	bool graft_family;

	graft_init();
	rc = GRAFT_REAL(getsockopt)(fd, level, name, val, len);
	if (rc < 0 || graft_nothing_tracked() || level != SOL_SOCKET ||
	    (name != SO_DOMAIN && name != SO_PROTOCOL) || !val || !len ||
	    *len < sizeof(int))
		return rc;
	err = errno;
	memcpy(&real, val, sizeof(real));
	/* The kernel backend's sockets are AF_GRAFT ones. */
	graft_family = name == SO_DOMAIN && real == AF_GRAFT;
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && graft_family &&
	    (s->state == GRAFT_GRAFTED || s->state == GRAFT_SPECULATIVE)) {
		fake = s->family;
	} else if (s && s->state == GRAFT_GRAFTED &&
		   s->host_family == AF_UNIX) {
		if (name == SO_DOMAIN)
			fake = s->family;
		else if (s->protocol)
			fake = s->protocol;
		else
			fake = s->type == SOCK_STREAM ? IPPROTO_TCP
						      : IPPROTO_UDP;
	}
	graft_fdt_unlock();
	if (fake >= 0) {
		memcpy(val, &fake, sizeof(fake));
		*len = sizeof(fake);
	}
	errno = err;
	return rc;
}
