/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_PERNET_H
#define _GRAFT_PERNET_H

#include <net/net_namespace.h>

#include "endpoint.h"
#include "socklist.h"

/* What af_graft keeps per network namespace. */
struct graft_net {
	struct graft_ep_net eps;	/* endpoint.c */
	struct graft_sock_net socks;	/* socklist.c */
};

struct graft_net *graft_net(struct net *net);

int graft_pernet_init(void);
void graft_pernet_exit(void);

#endif /* _GRAFT_PERNET_H */
