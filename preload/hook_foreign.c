/* SPDX-License-Identifier: MIT */
/*
 * hook_foreign.c — accept(), recvfrom(), recvmsg(), getsockname(),
 * getpeername(): what addresses a grafted socket shows the application. A
 * socket grafted onto an endpoint of another family (a unix endpoint, or
 * IPv4 behind an IPv6 socket) is "foreign": its addresses are translated or
 * faked so the application keeps seeing its own family.
 *
 * getsockname() on a socket grafted by bind() (and on the connections it
 * accepts) shows the program's view by default: the address and port it
 * bound, as behind a container runtime's port mapping. GRAFT_NAMES=host
 * shows the host socket's name instead. getpeername() is always the real
 * peer (translated to the program's family when foreign). A speculative
 * socket (spec.c) shows the unspecified address with port 0 until it
 * connects, as the namespace socket it stands for would.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

/*
 * A tracked copy of listener fd's entry for the connections it accepts,
 * when they need one: a foreign listener (addresses to translate) or one
 * whose getsockname() shows the program's view. *family gets the program's
 * family, *foreign whether the listener is foreign.
 */
static struct graft_sock *accept_entry(int fd, int *family, bool *foreign)
{
	struct graft_sock *s, *ns = NULL;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->state == GRAFT_GRAFTED &&
	    (s->foreign || (s->bound && !graft_cfg.names_host))) {
		ns = graft_sock_clone(s);
		if (ns) {
			ns->accepted = true;
			ns->nopts = 0;
		}
		*family = s->family;
		*foreign = s->foreign;
	}
	graft_fdt_unlock();
	return ns;
}

int graft_accept_impl(int fd, struct sockaddr *addr, socklen_t *len,
		      int flags, bool four)
{
	struct sockaddr_storage peer, fake;
	struct graft_sock *ns = NULL;
	socklen_t plen = sizeof(peer), flen;
	int nfd, err, family = AF_INET;
	bool foreign = false;

	graft_init();
	if (!graft_nothing_tracked())
		ns = accept_entry(fd, &family, &foreign);
	if (!ns || !foreign) {
		nfd = four || ns ? GRAFT_REAL(accept4)(fd, addr, len, flags)
				 : GRAFT_REAL(accept)(fd, addr, len);
	} else {
		nfd = GRAFT_REAL(accept4)(fd, (struct sockaddr *)&peer, &plen,
					 flags);
	}
	err = errno;
	if (nfd < 0) {
		free(ns);
		errno = err;
		return nfd;
	}
	graft_fdt_lock();
	if (!ns || graft_fdt_set(nfd, ns) < 0) {
		free(ns);
		graft_fdt_drop(nfd);
	}
	graft_fdt_unlock();
	if (foreign && addr && len) {
		flen = graft_addr_convert((struct sockaddr *)&peer, plen,
					  family, false, &fake);
		graft_addr_copyout(&fake, flen, addr, len);
	}
	errno = err;
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

ssize_t graft_recvfrom_impl(int fd, void *buf, size_t n, int flags,
				   struct sockaddr *addr, socklen_t *len)
{
	struct sockaddr_storage from, out;
	socklen_t flen = sizeof(from), olen;
	int family;
	ssize_t rc;

	graft_init();
	if (graft_nothing_tracked() || !addr || !len ||
	    !(family = foreign_family(fd)))
		return GRAFT_REAL(recvfrom)(fd, buf, n, flags, addr, len);
	rc = GRAFT_REAL(recvfrom)(fd, buf, n, flags, (struct sockaddr *)&from,
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

ssize_t graft_recvmsg_impl(int fd, struct msghdr *msg, int flags)
{
	struct sockaddr_storage from, out;
	void *name;
	socklen_t namelen, olen;
	int family;
	ssize_t rc;

	graft_init();
	if (graft_nothing_tracked() || !msg || !msg->msg_name ||
	    !(family = foreign_family(fd)))
		return GRAFT_REAL(recvmsg)(fd, msg, flags);
	name = msg->msg_name;
	namelen = msg->msg_namelen;
	msg->msg_name = &from;
	msg->msg_namelen = sizeof(from);
	rc = GRAFT_REAL(recvmsg)(fd, msg, flags);
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

/* What fd's entry says about its names, copied out under the lock. */
struct name_view {
	int family;	 /* the program's */
	int host_family; /* the host socket's */
	bool foreign;
	bool program;	 /* show the program's view (getsockname only) */
	bool accepted;
	bool spec;	 /* speculative: not bound by the program yet */
	socklen_t local_len;
	struct sockaddr_storage local;
};

static bool name_view_get(int fd, enum graft_name_kind kind,
			  struct name_view *v)
{
	struct graft_sock *s;
	bool found = false;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->state == GRAFT_SPECULATIVE && kind == GRAFT_NAME_SOCK &&
	    !graft_cfg.names_host) {
		v->family = s->family;
		v->host_family = s->host_family;
		v->spec = found = true;
	} else if (s && s->state == GRAFT_GRAFTED) {
		v->family = s->family;
		v->host_family = s->host_family;
		v->foreign = s->foreign;
		v->accepted = s->accepted;
		/* A unix endpoint has no INET name to show: always the
		 * program's view there. */
		v->program = kind == GRAFT_NAME_SOCK && s->bound &&
			     (!graft_cfg.names_host ||
			      s->host_family == AF_UNIX);
		if (v->program) {
			memcpy(&v->local, &s->local, sizeof(v->local));
			v->local_len = s->local_len;
		}
		found = v->foreign || v->program;
	}
	graft_fdt_unlock();
	return found;
}

static void set_port(struct sockaddr_storage *a, uint16_t port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons(port);
	else if (a->ss_family == AF_INET6)
		((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}

static bool is_wildcard(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == 0;
	return a->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(
		       &((const struct sockaddr_in6 *)a)->sin6_addr);
}

/*
 * The program's view of its local name: the address and port it bound. A
 * port it left to the system (0) is the host's; a connection accepted on a
 * wildcard shows the host's local address with the program's port.
 */
static socklen_t program_name(const struct name_view *v,
			      const struct sockaddr_storage *truth,
			      socklen_t tlen, struct sockaddr_storage *out)
{
	uint16_t port;
	socklen_t olen;

	if (v->host_family == AF_UNIX) {
		memcpy(out, &v->local, sizeof(*out));
		return v->local_len;
	}
	port = graft_addr_port((const struct sockaddr *)&v->local);
	if (v->accepted && is_wildcard(&v->local))
		olen = graft_addr_convert((const struct sockaddr *)truth, tlen,
					  v->family, false, out);
	else {
		memcpy(out, &v->local, sizeof(*out));
		olen = v->local_len;
	}
	if (port == 0)
		port = graft_addr_port((const struct sockaddr *)truth);
	set_port(out, port);
	return olen;
}

int graft_name_impl(int fd, struct sockaddr *addr, socklen_t *len,
		    enum graft_name_kind kind)
{
	int (*real)(int, struct sockaddr *, socklen_t *) =
		kind == GRAFT_NAME_SOCK ? GRAFT_REAL(getsockname)
					: GRAFT_REAL(getpeername);
	struct sockaddr_storage truth, out;
	socklen_t tlen = sizeof(truth), olen;
	struct name_view v = { .spec = false };

	graft_init();
	if (graft_nothing_tracked() || !addr || !len ||
	    !name_view_get(fd, kind, &v))
		return real(fd, addr, len);

	/* Ask the kernel anyway: its errors (ENOTCONN) are the truth, and a
	 * socket of another family is not the one we grafted. */
	if (real(fd, (struct sockaddr *)&truth, &tlen) < 0)
		return -1;
	if (tlen < sizeof(sa_family_t) || truth.ss_family != v.host_family) {
		graft_addr_copyout(&truth, tlen, addr, len);
		return 0;
	}
	if (v.spec) /* what an unbound namespace socket shows */
		olen = graft_addr_unspec(v.family, &out);
	else if (v.program)
		olen = program_name(&v, &truth, tlen, &out);
	else
		olen = graft_addr_convert((struct sockaddr *)&truth, tlen,
					  v.family, false, &out);
	graft_addr_copyout(&out, olen, addr, len);
	return 0;
}
