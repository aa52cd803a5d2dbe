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

/*
 * Put the granted socket on the application's descriptor, unless another
 * thread closed or replaced that descriptor during the round trip (its entry
 * is gone or belongs to another socket): then the number may now be someone
 * else's file. Checked and moved under the table lock, which close(),
 * dup2() and friends take before they change a tracked number.
 */
static int graft_move(int from, int fd, uint64_t id, bool cloexec)
{
	struct graft_sock *s;
	int err = 0;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (!s || s->id != id || s->state != GRAFT_GRAFTING)
		err = EBADF;
	else if (GRAFT_REAL(dup3)(from, fd, cloexec ? O_CLOEXEC : 0) < 0)
		err = errno;
	graft_fdt_unlock();
	return err;
}

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

	fl = GRAFT_REAL(fcntl)(fd, F_GETFL);
	fdfl = GRAFT_REAL(fcntl)(fd, F_GETFD);
	if (fl < 0 || fdfl < 0)
		return errno;

	memset(&res, 0, sizeof(res));
	if (graft_cfg.backend == GRAFT_BACKEND_KERNEL) {
		err = graft_kernel_request(&req, &res);
	} else {
		err = graft_pool_request(&req, &res);
		if (err == GRAFT_POOL_SKIP) {
			graft_pool_settle();
			err = graft_broker_request(&req, &res);
		}
	}
	if (err) {
		graft_error("cannot graft %s onto endpoint %s: %s", what, ep,
			    res.msg);
		return err;
	}
	/* O_NONBLOCK belongs to the open socket: set it before the move. */
	if (fl & O_NONBLOCK)
		GRAFT_REAL(fcntl)(res.fd, F_SETFL, fl);
	err = graft_move(res.fd, fd, snap->id, fdfl & FD_CLOEXEC);
	GRAFT_REAL(close)(res.fd);
	if (err) {
		graft_error("cannot graft %s onto endpoint %s: %s", what, ep,
			    err == EBADF ? "the descriptor was closed or "
					   "replaced during the graft"
					 : strerror(err));
		return err;
	}
	*host_family = res.family;
	if (graft_cfg.verbose) /* not formatted for a trace that is off */
		graft_trace("fd %d grafted onto %s (%s)", fd, ep,
			    res.addrlen ? graft_addr_str((struct sockaddr *)&res.addr,
							 res.addrlen, host)
					: "address not reported");
	return 0;
}
