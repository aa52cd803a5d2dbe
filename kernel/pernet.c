// SPDX-License-Identifier: GPL-2.0
/*
 * The per-namespace state (struct graft_net): one pernet_operations for the
 * endpoints and the list of bound sockets.
 */
#include <net/netns/generic.h>

#include "pernet.h"

static unsigned int graft_net_id __read_mostly;

struct graft_net *graft_net(struct net *net)
{
	return net_generic(net, graft_net_id);
}

static int __net_init graft_net_init(struct net *net)
{
	struct graft_net *gn = graft_net(net);

	graft_ep_net_init(&gn->eps);
	graft_sock_net_init(&gn->socks);
	return 0;
}

static void __net_exit graft_net_exit(struct net *net)
{
	struct graft_net *gn = graft_net(net);

	graft_sock_net_exit(&gn->socks);
	graft_ep_net_exit(&gn->eps);
}

static struct pernet_operations graft_net_ops = {
	.init = graft_net_init,
	.exit = graft_net_exit,
	.id = &graft_net_id,
	.size = sizeof(struct graft_net),
};

int graft_pernet_init(void)
{
	return register_pernet_subsys(&graft_net_ops);
}

void graft_pernet_exit(void)
{
	unregister_pernet_subsys(&graft_net_ops);
}
