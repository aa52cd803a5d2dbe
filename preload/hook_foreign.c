/* SPDX-License-Identifier: MIT */
/*
 * hook_foreign.c — accept(), recvfrom(), recvmsg(), getsockname(),
 * getpeername(): what addresses a grafted socket shows the application. A
 * socket grafted onto an endpoint of another family (a unix endpoint, or
 * IPv4 behind an IPv6 socket) is "foreign": its addresses are translated or
 * faked so the application keeps seeing its own family.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

int graft_accept_impl(int fd, struct sockaddr *addr, socklen_t *len,
			     int flags, bool four)
{
	struct sockaddr_storage peer, fake;
	struct graft_sock *s, *ns = NULL;
	socklen_t plen = sizeof(peer), flen;
	int nfd, err, family = AF_INET;

	graft_init();
	if (graft_nothing_tracked())
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
		graft_forget_fd(nfd);
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

int graft_name_impl(int fd, struct sockaddr *addr, socklen_t *len,
			   enum graft_name_kind kind)
{
	int (*real)(int, struct sockaddr *, socklen_t *) =
		kind == GRAFT_NAME_SOCK ? graft_real.getsockname
				  : graft_real.getpeername;
	struct sockaddr_storage truth, out;
	socklen_t tlen = sizeof(truth), olen;
	struct graft_sock *s;
	int family = 0, host_family = 0;
	bool have_local = false;

	graft_init();
	if (graft_nothing_tracked() || !addr || !len)
		return real(fd, addr, len);
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->state == GRAFT_GRAFTED && s->foreign) {
		family = s->family;
		host_family = s->host_family;
		if (kind == GRAFT_NAME_SOCK && host_family == AF_UNIX) {
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
