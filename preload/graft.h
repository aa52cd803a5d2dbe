/* SPDX-License-Identifier: MIT */
/*
 * The graft step shared by both backends: obtain a bound host-namespace
 * socket for an endpoint and put it on the application's descriptor.
 */
#ifndef GRAFT_GRAFT_H
#define GRAFT_GRAFT_H

#include <stdint.h>

#include "fdtable.h"

/*
 * Graft fd, whose tracked state before the graft is snap, onto endpoint ep.
 * port is what the application asked for (0 for egress); what names the
 * address for messages. On success the descriptor number stays the same but
 * now holds the host socket, with FD_CLOEXEC and O_NONBLOCK as before, and
 * *host_family is its family. Returns 0 or a positive errno; failures are
 * reported on stderr naming the endpoint and the reason.
 */
int graft_attach(int fd, const struct graft_sock *snap, const char *ep,
		 uint16_t port, const char *what, int *host_family);

#endif /* GRAFT_GRAFT_H */
