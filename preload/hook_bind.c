/* SPDX-License-Identifier: MIT */
/*
 * hook_bind.c — bind(): a candidate bound to an address an ingress mapping
 * covers is grafted onto the mapping's endpoint.
 */
#include <errno.h>
#include <string.h>

#include "graft.h"
#include "hooks.h"

int graft_bind_impl(int fd, const struct sockaddr *addr, socklen_t len)
{
	const struct graft_ingress *m;
	char what[GRAFT_ADDRSTR_MAX];
	struct graft_sock snap, *s;
	int rc, err, host_family;

	graft_init();
	if (graft_nothing_tracked() || !graft_addr_is_inet(addr, len))
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
