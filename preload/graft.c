/* SPDX-License-Identifier: MIT */
/*
 * graft.c — the graft step shared by both backends.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "backend.h"
#include "graft.h"
#include "libgraft.h"

int graft_attach(int fd, const struct graft_sock *snap, const char *ep,
		 uint16_t port, const char *what, int *host_family)
{
	struct graft_request req = {
		.ep = ep,
		.family = snap->family,
		.type = snap->type,
		.protocol = snap->protocol,
		.port = port,
		.nopts = snap->nopts,
		.opts = snap->opts,
	};
	struct graft_result res;
	char host[GRAFT_ADDRSTR_MAX];
	int fl, fdfl, err;

	fl = graft_real.fcntl(fd, F_GETFL);
	fdfl = graft_real.fcntl(fd, F_GETFD);
	if (fl < 0 || fdfl < 0)
		return errno;

	memset(&res, 0, sizeof(res));
	if (graft_cfg.backend == GRAFT_BACKEND_KERNEL) {
		err = graft_kernel_request(&req, &res);
	} else {
		err = graft_pool_request(&req, &res);
		if (err == GRAFT_POOL_SKIP)
			err = graft_broker_request(&req, &res);
	}
	if (err) {
		graft_error("cannot graft %s onto endpoint %s: %s", what, ep,
			    res.msg);
		return err;
	}

	if (graft_real.dup3(res.fd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
		err = errno;
		graft_real.close(res.fd);
		graft_error("cannot graft %s onto endpoint %s: cannot move the "
			    "grafted socket to descriptor %d: %s",
			    what, ep, fd, strerror(err));
		return err;
	}
	graft_real.close(res.fd);
	if (fl & O_NONBLOCK) {
		int nfl = graft_real.fcntl(fd, F_GETFL);

		if (nfl >= 0 && !(nfl & O_NONBLOCK))
			graft_real.fcntl(fd, F_SETFL, nfl | O_NONBLOCK);
	}
	*host_family = res.family;
	graft_trace("fd %d grafted onto %s (%s)", fd, ep,
		    res.addrlen ? graft_addr_str((struct sockaddr *)&res.addr,
						 res.addrlen, host)
				: "address not reported");
	return 0;
}
