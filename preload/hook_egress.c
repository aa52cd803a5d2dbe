/* SPDX-License-Identifier: MIT */
/*
 * hook_egress.c — connect(), sendto(), sendmsg(), sendmmsg(): a candidate
 * whose destination an egress mapping covers is grafted first.
 */
#include <errno.h>
#include <string.h>

#include "backend.h"
#include "graft.h"
#include "hooks.h"
#include "spec.h"

/*
 * A speculative socket's connect or send to dst, under the table lock:
 * grafted already when its endpoint is the one dst's mapping names (and the
 * stocked socket is young enough to reflect the endpoint as defined now).
 */
static bool spec_grafted(int fd, struct graft_sock *s,
			 const struct sockaddr *dst, socklen_t dlen,
			 const char *call)
{
	const struct graft_egress *m;
	char what[GRAFT_ADDRSTR_MAX];

	if (!graft_addr_is_inet(dst, dlen) || s->family != dst->sa_family ||
	    !graft_spec_fresh(s->born))
		return false;
	m = graft_maps_egress(&graft_cfg.maps, dst, dlen);
	if (!m || strcmp(m->ep, s->ep))
		return false;
	s->state = GRAFT_GRAFTED;
	s->foreign = false;
	s->bound = false;
	s->nopts = 0;
	s->local_len = graft_addr_unspec(s->family, &s->local);
	if (graft_cfg.verbose)
		graft_trace("%s(): use %s for %s (fd %d from the stock)", call,
			    m->ep, graft_addr_str(dst, dlen, what), fd);
	return true;
}

/*
 * The entry of fd for egress_prepare(), locked (NULL: unlocked, nothing to
 * do). A speculative socket either is grafted already (*grafted) or gets
 * a namespace socket in its place first; -1 with errno when that failed.
 */
static struct graft_sock *egress_entry(int fd, const struct sockaddr *dst,
				       socklen_t dlen, const char *call,
				       bool *grafted, int *rc)
{
	struct graft_sock *s;

	*grafted = false;
	*rc = 0;
	for (int round = 0; round < 2; round++) {
		graft_fdt_lock();
		s = graft_fdt_get(fd);
		if (!s) {
			graft_fdt_unlock();
			return NULL;
		}
		if (s->state != GRAFT_SPECULATIVE)
			return s;
		if (spec_grafted(fd, s, dst, dlen, call)) {
			*grafted = true;
			return s;
		}
		graft_fdt_unlock();
		if (graft_spec_settle(fd, call) < 0) {
			*rc = -1;
			return NULL;
		}
	}
	return NULL; /* speculative again: a new socket on that number */
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
	int err, host_family, rc;
	bool grafted;
	socklen_t clen;

	*use = dst;
	*uselen = dlen;
	s = egress_entry(fd, dst, dlen, call, &grafted, &rc);
	if (!s)
		return rc;
	if (grafted) {
		graft_fdt_unlock();
		graft_spec_outcome(true);
		return 0;
	}
	if (!graft_addr_is_inet(dst, dlen)) {
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
		if (graft_cfg.verbose)
			graft_trace("%s(): fd %d to %s left alone: no egress "
				    "mapping",
				    call, fd, graft_addr_str(dst, dlen, what));
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

int graft_connect_impl(int fd, const struct sockaddr *addr,
			      socklen_t len)
{
	struct sockaddr_storage conv;
	const struct sockaddr *use;
	socklen_t uselen;

	graft_init();
	if (graft_nothing_tracked())
		return GRAFT_REAL(connect)(fd, addr, len);
	if (egress_prepare(fd, addr, len, "connect", &conv, &use, &uselen) < 0)
		return -1;
	return GRAFT_REAL(connect)(fd, use, uselen);
}

ssize_t graft_sendto_impl(int fd, const void *buf, size_t n, int flags,
				 const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_storage conv;
	const struct sockaddr *use;
	socklen_t uselen;

	graft_init();
	if (graft_nothing_tracked() || !addr)
		return GRAFT_REAL(sendto)(fd, buf, n, flags, addr, len);
	if (egress_prepare(fd, addr, len, "sendto", &conv, &use, &uselen) < 0)
		return -1;
	return GRAFT_REAL(sendto)(fd, buf, n, flags, use, uselen);
}

ssize_t graft_sendmsg_impl(int fd, const struct msghdr *msg, int flags)
{
	struct sockaddr_storage conv;
	const struct sockaddr *use;
	struct msghdr copy;
	socklen_t uselen;

	graft_init();
	if (graft_nothing_tracked() || !msg || !msg->msg_name)
		return GRAFT_REAL(sendmsg)(fd, msg, flags);
	if (egress_prepare(fd, msg->msg_name, msg->msg_namelen, "sendmsg",
			   &conv, &use, &uselen) < 0)
		return -1;
	if (use == msg->msg_name)
		return GRAFT_REAL(sendmsg)(fd, msg, flags);
	copy = *msg;
	copy.msg_name = (void *)use;
	copy.msg_namelen = uselen;
	return GRAFT_REAL(sendmsg)(fd, &copy, flags);
}

int graft_sendmmsg_impl(int fd, struct mmsghdr *vec, unsigned int vlen,
			       int flags)
{
	struct sockaddr_storage conv;
	const struct sockaddr *use;
	socklen_t uselen;
	__typeof__(sendmmsg) *real = GRAFT_REAL_OPT(sendmmsg);

	graft_init();
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (graft_nothing_tracked() || !vec || vlen == 0 || !vec[0].msg_hdr.msg_name)
		return real(fd, vec, vlen, flags);
	/* The first destination decides; addresses are passed unchanged. */
	if (egress_prepare(fd, vec[0].msg_hdr.msg_name,
			   vec[0].msg_hdr.msg_namelen, "sendmmsg", &conv, &use,
			   &uselen) < 0)
		return -1;
	return real(fd, vec, vlen, flags);
}
