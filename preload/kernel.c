/* SPDX-License-Identifier: MIT */
/*
 * kernel.c — the kernel backend: an AF_GRAFT socket from af_graft.ko.
 * The module keeps the options set before bind() and applies them to the host
 * socket it creates when the graft socket is bound to an endpoint.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "af_graft.h"
#include "backend.h"
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

/*
 * Kernels before 6.2 refuse SO_REUSEPORT on an AF_GRAFT socket in the
 * socket layer (EOPNOTSUPP) before af_graft sees it: af_graft takes it as
 * GRAFT_REUSEPORT there, with the same policy.
 */
static int set_option(int fd, const struct graft_sockopt *o)
{
	int rc = graft_real.setsockopt(fd, o->level, o->name, o->val, o->len);

	if (rc < 0 && errno == EOPNOTSUPP && o->level == SOL_SOCKET &&
	    o->name == SO_REUSEPORT)
		rc = graft_real.setsockopt(fd, SOL_GRAFT, GRAFT_REUSEPORT,
					   o->val, o->len);
	return rc;
}

int graft_kernel_request(const struct graft_request *req,
			 struct graft_result *res)
{
	struct sockaddr_gr sgr;
	int fd, err, port = req->port, one = 1;
	socklen_t len;
	uint16_t i;

	res->fd = -1;
	fd = graft_real.socket(AF_GRAFT, req->type | SOCK_CLOEXEC,
			       req->protocol);
	if (fd < 0) {
		err = errno;
		snprintf(res->msg, sizeof(res->msg),
			 "cannot create an AF_GRAFT socket (%s); is af_graft.ko "
			 "loaded?",
			 strerror(err));
		return err == EAFNOSUPPORT ? EADDRNOTAVAIL : err;
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
	if (port != 0 && graft_real.setsockopt(fd, SOL_GRAFT, GRAFT_PORT_HINT,
					       &port, sizeof(port)) < 0) {
		err = errno;
		snprintf(res->msg, sizeof(res->msg),
			 "cannot pass port %d to af_graft (%s)", port,
			 strerror(err));
		goto fail;
	}
	/* The application believes it holds an INET socket: getsockname()
	 * must give the host address, not the endpoint name. */
	if (graft_real.setsockopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, &one,
				  sizeof(one)) < 0)
		graft_trace("af_graft does not take GRAFT_NAME_TRANSPARENT: %s",
			    strerror(errno));
	memset(&sgr, 0, sizeof(sgr));
	sgr.sgr_family = AF_GRAFT;
	strncpy(sgr.sgr_epname, req->ep, sizeof(sgr.sgr_epname) - 1);
	if (graft_real.bind(fd, (struct sockaddr *)&sgr, sizeof(sgr)) < 0) {
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
	res->fd = fd;
	res->family = req->family;
	len = sizeof(res->addr);
	if (graft_real.getsockname(fd, (struct sockaddr *)&res->addr, &len) == 0 &&
	    len <= sizeof(res->addr) &&
	    (res->addr.ss_family == AF_INET ||
	     res->addr.ss_family == AF_INET6 ||
	     res->addr.ss_family == AF_UNIX)) {
		res->family = res->addr.ss_family;
		res->addrlen = len;
	}
	return 0;
fail:
	graft_real.close(fd);
	return err;
}
