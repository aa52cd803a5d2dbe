/* SPDX-License-Identifier: MIT */
/*
 * hooks.c — the hooked libc calls. Each call has one internal
 * implementation (graft_*_impl) and a thin exported wrapper at the end of
 * the file.
 *
 * Life of a tracked socket (fdtable.h): socket() of AF_INET/AF_INET6 with
 * SOCK_STREAM/SOCK_DGRAM creates a candidate; options set on it are
 * recorded; the first bind() matching an ingress mapping, or connect() /
 * sendto() / sendmsg() to a destination matching an egress mapping, grafts
 * it; any other first bind/connect/send leaves it alone for good.
 *
 * A socket grafted onto an endpoint of another family (a unix endpoint, or
 * IPv4 behind an IPv6 socket) is "foreign": accept(), getsockname() and
 * getpeername() translate or fake addresses so the application keeps
 * seeing its own family.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdtable.h"
#include "graft.h"
#include "libgraft.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Nothing tracked at all: every call can go straight through. */
static inline bool nothing_tracked(void)
{
	return graft_cfg.passthrough || graft_fdt_count() == 0;
}

static bool is_tracked_socket(int domain, int type)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

	return (domain == AF_INET || domain == AF_INET6) &&
	       (base == SOCK_STREAM || base == SOCK_DGRAM);
}

/* A new descriptor number must not inherit a stale entry. */
static void forget_fd(int fd)
{
	if (fd < 0 || graft_fdt_count() == 0)
		return;
	graft_fdt_lock();
	graft_fdt_drop(fd);
	graft_fdt_unlock();
}

/* Record the outcome of a graft on the entry it started from. */
static void graft_commit(int fd, uint64_t id, int err, int host_family,
			 const char *ep, const struct sockaddr *local,
			 socklen_t local_len)
{
	struct graft_sock *s;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->id == id && s->state == GRAFT_GRAFTING) {
		if (err) {
			s->state = GRAFT_CANDIDATE;
		} else {
			s->state = GRAFT_GRAFTED;
			s->host_family = host_family;
			s->foreign = host_family != s->family;
			strncpy(s->ep, ep, sizeof(s->ep) - 1);
			if (local && local_len <= sizeof(s->local)) {
				memcpy(&s->local, local, local_len);
				s->local_len = local_len;
			} else {
				s->local_len = graft_addr_unspec(s->family,
								 &s->local);
			}
			s->nopts = 0;
		}
	}
	graft_fdt_unlock();
}

static int graft_socket_impl(int domain, int type, int protocol)
{
	struct graft_sock *s;
	int fd;

	graft_init();
	/* Not ours: straight through, before any lock. A stale entry on the
	 * new number (a close we did not see) is caught where it matters,
	 * see graft_name_impl(). */
	if (graft_cfg.passthrough || !is_tracked_socket(domain, type))
		return graft_real.socket(domain, type, protocol);
	fd = graft_real.socket(domain, type, protocol);
	if (fd < 0)
		return fd;
	s = graft_sock_new(domain, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC),
			   protocol);
	graft_fdt_lock();
	if (!s || graft_fdt_set(fd, s) < 0) {
		graft_fdt_drop(fd);
		graft_fdt_unlock();
		free(s);
		graft_trace("socket(): out of memory, fd %d is not tracked", fd);
		return fd;
	}
	graft_fdt_unlock();
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

static void record_option(int fd, struct graft_sock *s, int level, int name,
			  const void *val, socklen_t len)
{
	struct graft_sockopt *o = NULL;
	uint16_t i;

	if (!val || len == 0 || len > GRAFT_SOCKOPT_VAL_MAX ||
	    option_is_local(level, name)) {
		graft_trace("setsockopt(): fd %d option %d/%d (%u bytes) "
			    "cannot be passed on to the graft",
			    fd, level, name, (unsigned int)len);
		return;
	}
	for (i = 0; i < s->nopts; i++)
		if (s->opts[i].level == level && s->opts[i].name == name)
			o = &s->opts[i];
	if (!o) {
		if (s->nopts >= GRAFT_SOCKOPT_MAX) {
			graft_trace("setsockopt(): fd %d has more than %d "
				    "options; option %d/%d not passed on",
				    fd, GRAFT_SOCKOPT_MAX, level, name);
			return;
		}
		o = &s->opts[s->nopts++];
	}
	memset(o, 0, sizeof(*o));
	o->level = level;
	o->name = name;
	o->len = len;
	memcpy(o->val, val, len);
}

static bool is_inet_level(int level)
{
	return level == IPPROTO_IP || level == IPPROTO_IPV6 ||
	       level == IPPROTO_TCP || level == IPPROTO_UDP;
}

static int graft_setsockopt_impl(int fd, int level, int name, const void *val,
				 socklen_t len)
{
	struct graft_sock *s;
	bool fake_ok = false;
	int rc, err;

	graft_init();
	rc = graft_real.setsockopt(fd, level, name, val, len);
	if (nothing_tracked())
		return rc;
	err = errno;
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && rc == 0 && s->state == GRAFT_CANDIDATE)
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

static int graft_getsockopt_impl(int fd, int level, int name, void *val,
				 socklen_t *len)
{
	struct graft_sock *s;
	int rc, err, fake = -1;

	graft_init();
	rc = graft_real.getsockopt(fd, level, name, val, len);
	if (rc < 0 || nothing_tracked() || level != SOL_SOCKET ||
	    (name != SO_DOMAIN && name != SO_PROTOCOL) || !val || !len ||
	    *len < sizeof(int))
		return rc;
	err = errno;
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->state == GRAFT_GRAFTED && s->host_family == AF_UNIX) {
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

static int graft_bind_impl(int fd, const struct sockaddr *addr, socklen_t len)
{
	const struct graft_ingress *m;
	char what[GRAFT_ADDRSTR_MAX];
	struct graft_sock snap, *s;
	int rc, err, host_family;

	graft_init();
	if (nothing_tracked() || !graft_addr_is_inet(addr, len))
		return graft_real.bind(fd, addr, len);

	m = graft_maps_ingress(&graft_cfg.maps, addr, len);
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (!s || s->state != GRAFT_CANDIDATE || s->family != addr->sa_family) {
		graft_fdt_unlock();
		return graft_real.bind(fd, addr, len);
	}
	if (!m) {
		graft_fdt_unlock();
		rc = graft_real.bind(fd, addr, len);
		if (rc == 0) {
			err = errno;
			graft_fdt_lock();
			s = graft_fdt_get(fd);
			if (s && s->state == GRAFT_CANDIDATE)
				s->state = GRAFT_PASSED;
			graft_fdt_unlock();
			errno = err;
		}
		return rc;
	}
	snap = *s;
	s->state = GRAFT_GRAFTING;
	graft_fdt_unlock();

	graft_addr_str(addr, len, what);
	graft_trace("bind(): use %s for %s", m->ep, what);
	err = graft_attach(fd, &snap, m->ep, graft_addr_port(addr), what,
			   &host_family);
	graft_commit(fd, snap.id, err, host_family, m->ep, addr, len);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * Before fd connects or sends to dst: graft it if it is a candidate and an
 * egress mapping covers dst. use and uselen get the destination to pass on
 * (translated when the grafted socket's family differs). Returns 0, or -1
 * with errno set when the graft failed.
 */
static int egress_prepare(int fd, const struct sockaddr *dst, socklen_t dlen,
			  const char *call, struct sockaddr_storage *conv,
			  const struct sockaddr **use, socklen_t *uselen)
{
	const struct graft_egress *m;
	char what[GRAFT_ADDRSTR_MAX];
	struct graft_sock snap, *s;
	int err, host_family;
	socklen_t clen;

	*use = dst;
	*uselen = dlen;
	if (!graft_addr_is_inet(dst, dlen))
		return 0;
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (!s) {
		graft_fdt_unlock();
		return 0;
	}
	if (s->state == GRAFT_GRAFTED) {
		host_family = s->host_family;
		graft_fdt_unlock();
		goto translate;
	}
	if (s->state != GRAFT_CANDIDATE || s->family != dst->sa_family) {
		graft_fdt_unlock();
		return 0;
	}
	m = graft_maps_egress(&graft_cfg.maps, dst, dlen);
	if (!m) {
		s->state = GRAFT_PASSED;
		graft_fdt_unlock();
		return 0;
	}
	snap = *s;
	s->state = GRAFT_GRAFTING;
	graft_fdt_unlock();

	graft_addr_str(dst, dlen, what);
	graft_trace("%s(): use %s for %s", call, m->ep, what);
	err = graft_attach(fd, &snap, m->ep, 0, what, &host_family);
	graft_commit(fd, snap.id, err, host_family, m->ep, NULL, 0);
	if (err) {
		errno = err;
		return -1;
	}
translate:
	if (host_family != dst->sa_family &&
	    (host_family == AF_INET || host_family == AF_INET6)) {
		clen = graft_addr_convert(dst, dlen, host_family, true, conv);
		if (clen) {
			*use = (const struct sockaddr *)conv;
			*uselen = clen;
		}
	}
	return 0;
}

static int graft_connect_impl(int fd, const struct sockaddr *addr,
			      socklen_t len)
{
	struct sockaddr_storage conv;
	const struct sockaddr *use;
	socklen_t uselen;

	graft_init();
	if (nothing_tracked())
		return graft_real.connect(fd, addr, len);
	if (egress_prepare(fd, addr, len, "connect", &conv, &use, &uselen) < 0)
		return -1;
	return graft_real.connect(fd, use, uselen);
}

static ssize_t graft_sendto_impl(int fd, const void *buf, size_t n, int flags,
				 const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_storage conv;
	const struct sockaddr *use;
	socklen_t uselen;

	graft_init();
	if (nothing_tracked() || !addr)
		return graft_real.sendto(fd, buf, n, flags, addr, len);
	if (egress_prepare(fd, addr, len, "sendto", &conv, &use, &uselen) < 0)
		return -1;
	return graft_real.sendto(fd, buf, n, flags, use, uselen);
}

static ssize_t graft_sendmsg_impl(int fd, const struct msghdr *msg, int flags)
{
	struct sockaddr_storage conv;
	const struct sockaddr *use;
	struct msghdr copy;
	socklen_t uselen;

	graft_init();
	if (nothing_tracked() || !msg || !msg->msg_name)
		return graft_real.sendmsg(fd, msg, flags);
	if (egress_prepare(fd, msg->msg_name, msg->msg_namelen, "sendmsg",
			   &conv, &use, &uselen) < 0)
		return -1;
	if (use == msg->msg_name)
		return graft_real.sendmsg(fd, msg, flags);
	copy = *msg;
	copy.msg_name = (void *)use;
	copy.msg_namelen = uselen;
	return graft_real.sendmsg(fd, &copy, flags);
}

static int graft_sendmmsg_impl(int fd, struct mmsghdr *vec, unsigned int vlen,
			       int flags)
{
	struct sockaddr_storage conv;
	const struct sockaddr *use;
	socklen_t uselen;

	graft_init();
	if (!graft_real.sendmmsg) {
		errno = ENOSYS;
		return -1;
	}
	if (nothing_tracked() || !vec || vlen == 0 || !vec[0].msg_hdr.msg_name)
		return graft_real.sendmmsg(fd, vec, vlen, flags);
	/* The first destination decides; addresses are passed unchanged. */
	if (egress_prepare(fd, vec[0].msg_hdr.msg_name,
			   vec[0].msg_hdr.msg_namelen, "sendmmsg", &conv, &use,
			   &uselen) < 0)
		return -1;
	return graft_real.sendmmsg(fd, vec, vlen, flags);
}

static int graft_accept_impl(int fd, struct sockaddr *addr, socklen_t *len,
			     int flags, bool four)
{
	struct sockaddr_storage peer, fake;
	struct graft_sock *s, *ns = NULL;
	socklen_t plen = sizeof(peer), flen;
	int nfd, err, family = AF_INET;

	graft_init();
	if (nothing_tracked())
		goto passthrough;
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->state == GRAFT_GRAFTED && s->foreign) {
		ns = graft_sock_clone(s);
		if (ns)
			ns->accepted = true;
		family = s->family;
	}
	graft_fdt_unlock();
	if (!ns)
		goto passthrough;

	nfd = graft_real.accept4(fd, (struct sockaddr *)&peer, &plen, flags);
	if (nfd < 0) {
		err = errno;
		free(ns);
		errno = err;
		return nfd;
	}
	err = errno;
	graft_fdt_lock();
	if (graft_fdt_set(nfd, ns) < 0) {
		free(ns);
		graft_fdt_drop(nfd);
	}
	graft_fdt_unlock();
	if (addr && len) {
		flen = graft_addr_convert((struct sockaddr *)&peer, plen,
					  family, false,
					  &fake);
		graft_addr_copyout(&fake, flen, addr, len);
	}
	errno = err;
	return nfd;

passthrough:
	nfd = four ? graft_real.accept4(fd, addr, len, flags)
		   : graft_real.accept(fd, addr, len);
	if (nfd >= 0) {
		err = errno;
		forget_fd(nfd);
		errno = err;
	}
	return nfd;
}

/*
 * The family the application expects on fd when its addresses must be
 * translated (a foreign graft), or 0.
 */
static int foreign_family(int fd)
{
	struct graft_sock *s;
	int family = 0;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->state == GRAFT_GRAFTED && s->foreign)
		family = s->family;
	graft_fdt_unlock();
	return family;
}

static ssize_t graft_recvfrom_impl(int fd, void *buf, size_t n, int flags,
				   struct sockaddr *addr, socklen_t *len)
{
	struct sockaddr_storage from, out;
	socklen_t flen = sizeof(from), olen;
	int family;
	ssize_t rc;

	graft_init();
	if (nothing_tracked() || !addr || !len ||
	    !(family = foreign_family(fd)))
		return graft_real.recvfrom(fd, buf, n, flags, addr, len);
	rc = graft_real.recvfrom(fd, buf, n, flags, (struct sockaddr *)&from,
				 &flen);
	if (rc < 0)
		return rc;
	if (flen == 0) {
		*len = 0;
		return rc;
	}
	olen = graft_addr_convert((struct sockaddr *)&from, flen, family,
				  false, &out);
	graft_addr_copyout(&out, olen, addr, len);
	return rc;
}

static ssize_t graft_recvmsg_impl(int fd, struct msghdr *msg, int flags)
{
	struct sockaddr_storage from, out;
	void *name;
	socklen_t namelen, olen;
	int family;
	ssize_t rc;

	graft_init();
	if (nothing_tracked() || !msg || !msg->msg_name ||
	    !(family = foreign_family(fd)))
		return graft_real.recvmsg(fd, msg, flags);
	name = msg->msg_name;
	namelen = msg->msg_namelen;
	msg->msg_name = &from;
	msg->msg_namelen = sizeof(from);
	rc = graft_real.recvmsg(fd, msg, flags);
	olen = msg->msg_namelen;
	msg->msg_name = name;
	msg->msg_namelen = namelen;
	if (rc < 0)
		return rc;
	if (olen == 0) {
		msg->msg_namelen = 0;
		return rc;
	}
	olen = graft_addr_convert((struct sockaddr *)&from, olen, family,
				  false, &out);
	graft_addr_copyout(&out, olen, name, &msg->msg_namelen);
	return rc;
}

enum name_kind { NAME_SOCK, NAME_PEER };

static int graft_name_impl(int fd, struct sockaddr *addr, socklen_t *len,
			   enum name_kind kind)
{
	int (*real)(int, struct sockaddr *, socklen_t *) =
		kind == NAME_SOCK ? graft_real.getsockname
				  : graft_real.getpeername;
	struct sockaddr_storage truth, out;
	socklen_t tlen = sizeof(truth), olen;
	struct graft_sock *s;
	int family = 0, host_family = 0;
	bool have_local = false;

	graft_init();
	if (nothing_tracked() || !addr || !len)
		return real(fd, addr, len);
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->state == GRAFT_GRAFTED && s->foreign) {
		family = s->family;
		host_family = s->host_family;
		if (kind == NAME_SOCK && host_family == AF_UNIX) {
			memcpy(&out, &s->local, sizeof(out));
			olen = s->local_len;
			have_local = true;
		}
	}
	graft_fdt_unlock();
	if (!family)
		return real(fd, addr, len);

	/* Ask the kernel anyway: its errors (ENOTCONN) are the truth, and a
	 * socket of another family is not the one we grafted. */
	if (real(fd, (struct sockaddr *)&truth, &tlen) < 0)
		return -1;
	if (tlen >= sizeof(sa_family_t) && truth.ss_family != host_family) {
		graft_addr_copyout(&truth, tlen, addr, len);
		return 0;
	}
	if (!have_local)
		olen = graft_addr_convert((struct sockaddr *)&truth, tlen,
					  family, false, &out);
	graft_addr_copyout(&out, olen, addr, len);
	return 0;
}

static int graft_close_impl(int fd)
{
	graft_init();
	forget_fd(fd);
	return graft_real.close(fd);
}

static int graft_close_range_impl(unsigned int first, unsigned int last,
				  int flags)
{
	int rc, err;

	graft_init();
	if (!graft_real.close_range) {
		errno = ENOSYS;
		return -1;
	}
	rc = graft_real.close_range(first, last, flags);
	if (rc == 0 && !((unsigned int)flags & CLOSE_RANGE_CLOEXEC) &&
	    !nothing_tracked()) {
		err = errno;
		graft_fdt_lock();
		graft_fdt_drop_range(first, last);
		graft_fdt_unlock();
		errno = err;
	}
	return rc;
}

/* After a successful dup of oldfd onto newfd. */
static void track_dup(int oldfd, int newfd)
{
	int err;

	if (newfd < 0 || oldfd == newfd || graft_fdt_count() == 0)
		return;
	err = errno;
	graft_fdt_lock();
	graft_fdt_dup(oldfd, newfd);
	graft_fdt_unlock();
	errno = err;
}

static int graft_dup_impl(int fd)
{
	int nfd;

	graft_init();
	nfd = graft_real.dup(fd);
	track_dup(fd, nfd);
	return nfd;
}

static int graft_dup2_impl(int fd, int fd2)
{
	int rc;

	graft_init();
	rc = graft_real.dup2(fd, fd2);
	if (rc >= 0)
		track_dup(fd, fd2);
	return rc;
}

static int graft_dup3_impl(int fd, int fd2, int flags)
{
	int rc;

	graft_init();
	rc = graft_real.dup3(fd, fd2, flags);
	if (rc >= 0)
		track_dup(fd, fd2);
	return rc;
}

static int graft_fcntl_impl(int (*real)(int, int, ...), int fd, int cmd,
			    void *arg)
{
	int rc;

	rc = real(fd, cmd, arg);
	if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		track_dup(fd, rc);
	return rc;
}

/* ---- exported wrappers ------------------------------------------------ */

GRAFT_EXPORT
int socket(int domain, int type, int protocol)
{
	return graft_socket_impl(domain, type, protocol);
}

GRAFT_EXPORT
int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return graft_setsockopt_impl(fd, level, name, val, len);
}

GRAFT_EXPORT
int getsockopt(int fd, int level, int name, void *__restrict val,
	       socklen_t *__restrict len)
{
	return graft_getsockopt_impl(fd, level, name, val, len);
}

GRAFT_EXPORT
int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	return graft_bind_impl(fd, addr.__sockaddr__, len);
}

GRAFT_EXPORT
int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	return graft_connect_impl(fd, addr.__sockaddr__, len);
}

GRAFT_EXPORT
ssize_t sendto(int fd, const void *buf, size_t n, int flags,
	       __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	return graft_sendto_impl(fd, buf, n, flags, addr.__sockaddr__, len);
}

GRAFT_EXPORT
ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return graft_sendmsg_impl(fd, msg, flags);
}

GRAFT_EXPORT
int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	return graft_sendmmsg_impl(fd, vec, vlen, flags);
}

GRAFT_EXPORT
ssize_t recvfrom(int fd, void *__restrict buf, size_t n, int flags,
		 __SOCKADDR_ARG addr, socklen_t *__restrict len)
{
	return graft_recvfrom_impl(fd, buf, n, flags, addr.__sockaddr__, len);
}

GRAFT_EXPORT
ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	return graft_recvmsg_impl(fd, msg, flags);
}

GRAFT_EXPORT
int accept(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len)
{
	return graft_accept_impl(fd, addr.__sockaddr__, len, 0, false);
}

GRAFT_EXPORT
int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len, int flags)
{
	return graft_accept_impl(fd, addr.__sockaddr__, len, flags, true);
}

GRAFT_EXPORT
int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len)
{
	return graft_name_impl(fd, addr.__sockaddr__, len, NAME_SOCK);
}

GRAFT_EXPORT
int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len)
{
	return graft_name_impl(fd, addr.__sockaddr__, len, NAME_PEER);
}

GRAFT_EXPORT
int close(int fd)
{
	return graft_close_impl(fd);
}

GRAFT_EXPORT
int close_range(unsigned int first, unsigned int last, int flags)
{
	return graft_close_range_impl(first, last, flags);
}

GRAFT_EXPORT
int dup(int fd)
{
	return graft_dup_impl(fd);
}

GRAFT_EXPORT
int dup2(int fd, int fd2)
{
	return graft_dup2_impl(fd, fd2);
}

GRAFT_EXPORT
int dup3(int fd, int fd2, int flags)
{
	return graft_dup3_impl(fd, fd2, flags);
}

GRAFT_EXPORT
int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	graft_init();
	return graft_fcntl_impl(graft_real.fcntl, fd, cmd, arg);
}

GRAFT_EXPORT
int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	graft_init();
	return graft_fcntl_impl(graft_real.fcntl64 ? graft_real.fcntl64
						    : graft_real.fcntl,
				fd, cmd, arg);
}
