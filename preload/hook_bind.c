/* SPDX-License-Identifier: MIT */
/*
 * hook_bind.c — bind(): a candidate bound to an address an ingress mapping
 * covers is grafted onto the mapping's endpoint. An unmatched bind leaves
 * the socket alone, except a bind to a wildcard address with port 0 (a
 * client picking its local port, as dig and Node's dgram do): that socket
 * stays a candidate for egress. bind() and listen() on a speculative socket
 * (spec.c) put a namespace socket in its place first.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "graft.h"
#include "hooks.h"
#include "spec.h"

/* Does the socket refuse IPv4 traffic (IPV6_V6ONLY, set or by default)? */
static bool is_v6only(int fd, const struct sockaddr *addr)
{
	socklen_t len = sizeof(int);
	int v = 0;

	return addr->sa_family == AF_INET6 &&
	       GRAFT_REAL(getsockopt)(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v,
				     &len) == 0 &&
	       v;
}

/* A wildcard address with port 0. */
static bool is_any_port0(const struct sockaddr *addr)
{
	if (graft_addr_port(addr) != 0)
		return false;
	if (addr->sa_family == AF_INET)
		return ((const struct sockaddr_in *)addr)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
		&((const struct sockaddr_in6 *)addr)->sin6_addr);
}

/* After a successful unmatched bind: say why, keep or pass the socket. */
static void bind_unmatched(int fd, uint64_t id, const struct sockaddr *addr,
			   socklen_t len, bool v6only)
{
	char what[GRAFT_ADDRSTR_MAX];
	bool keep = is_any_port0(addr);
	struct graft_sock *s;
	int err = errno;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->id == id && s->state == GRAFT_CANDIDATE) {
		if (keep)
			s->bound_any = true;
		else
			s->state = GRAFT_PASSED;
	}
	graft_fdt_unlock();
	if (graft_cfg.verbose) {
		graft_addr_str(addr, len, what);
		if (keep)
			graft_trace("bind(): fd %d %s stays in the namespace "
				    "until it connects or sends to an egress "
				    "mapping",
				    fd, what);
		else if (v6only && graft_maps_ingress(&graft_cfg.maps, addr,
						      len, false))
			graft_trace("bind(): fd %d %s left alone: IPV6_V6ONLY "
				    "is set and only an IPv4 mapping matches",
				    fd, what);
		else
			graft_trace("bind(): fd %d %s left alone: no ingress "
				    "mapping",
				    fd, what);
	}
	errno = err;
}

/*
 * An IPv6 graft carries the socket's IPV6_V6ONLY, set by the program or by
 * the namespace's default, so the host socket behaves the same.
 */
static void add_v6only(struct graft_sock *snap, bool v6only)
{
	struct graft_sockopt *o;
	int v = v6only;

	for (uint16_t i = 0; i < snap->nopts; i++)
		if (snap->opts[i].level == IPPROTO_IPV6 &&
		    snap->opts[i].name == IPV6_V6ONLY)
			return;
	if (snap->nopts >= GRAFT_SOCKOPT_MAX)
		return;
	o = &snap->opts[snap->nopts++];
	memset(o, 0, sizeof(*o));
	o->level = IPPROTO_IPV6;
	o->name = IPV6_V6ONLY;
	o->len = sizeof(v);
	memcpy(o->val, &v, sizeof(v));
}

int graft_bind_impl(int fd, const struct sockaddr *addr, socklen_t len)
{
	const struct graft_ingress *m;
	char what[GRAFT_ADDRSTR_MAX];
	struct graft_sock snap, *s;
	int rc, err, host_family;
	bool v6only;

	graft_init();
	if (graft_nothing_tracked())
		return GRAFT_REAL(bind)(fd, addr, len);
	/* Any bind of a stocked socket, even to 0.0.0.0:0: the program wants
	 * a local address of its own, which is the namespace's. */
	if (graft_spec_settle(fd, "bind()") < 0)
		return -1;
	if (!graft_addr_is_inet(addr, len))
		return GRAFT_REAL(bind)(fd, addr, len);

	v6only = is_v6only(fd, addr);
	m = graft_maps_ingress(&graft_cfg.maps, addr, len, v6only);
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (!s || s->state != GRAFT_CANDIDATE || s->family != addr->sa_family) {
		graft_fdt_unlock();
		return GRAFT_REAL(bind)(fd, addr, len);
	}
	if (!m) {
		uint64_t id = s->id;

		graft_fdt_unlock();
		rc = GRAFT_REAL(bind)(fd, addr, len);
		if (rc == 0)
			bind_unmatched(fd, id, addr, len, v6only);
		return rc;
	}
	snap = *s;
	s->state = GRAFT_GRAFTING;
	graft_fdt_unlock();

	if (m->family == AF_INET6)
		add_v6only(&snap, v6only);
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

/* listen() on a stocked socket: a server in the namespace, not a client. */
int graft_listen_impl(int fd, int backlog)
{
	graft_init();
	if (graft_spec_settle(fd, "listen()") < 0)
		return -1;
	return GRAFT_REAL(listen)(fd, backlog);
}
