// SPDX-License-Identifier: GPL-2.0
/*
 * The bound graft sockets of each namespace (the namespace of the graft
 * socket), for GRAFT_CMD_SOCK_GET.  A socket is linked once its host socket
 * is published and unlinked in release() before the host socket goes, both
 * under the list's mutex, so a walker holding that mutex may use the host
 * socket of every socket it finds.
 */
#include <linux/mutex.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include "socket.h"
#include "socklist.h"

struct graft_sock_net {
	struct mutex lock;		/* protects socks and gen */
	struct list_head socks;
	unsigned int gen;		/* bumped on every change of socks */
};

static unsigned int graft_sock_net_id __read_mostly;

static struct graft_sock_net *graft_sock_pernet(struct net *net)
{
	return net_generic(net, graft_sock_net_id);
}

void graft_sock_link(struct graft_sock *gsk)
{
	struct graft_sock_net *gsn = graft_sock_pernet(sock_net(&gsk->sk));

	mutex_lock(&gsn->lock);
	list_add_tail(&gsk->node, &gsn->socks);
	gsn->gen++;
	mutex_unlock(&gsn->lock);
}

void graft_sock_unlink(struct graft_sock *gsk)
{
	struct graft_sock_net *gsn = graft_sock_pernet(sock_net(&gsk->sk));

	mutex_lock(&gsn->lock);
	list_del_init(&gsk->node);
	gsn->gen++;
	mutex_unlock(&gsn->lock);
}

int graft_sock_walk(struct net *net, unsigned long *idx, unsigned int *gen,
		    int (*fn)(const struct graft_sock_desc *d, void *arg),
		    void *arg)
{
	struct graft_sock_net *gsn = graft_sock_pernet(net);
	struct graft_sock *gsk;
	unsigned long i = 0;
	int ret = 0;

	mutex_lock(&gsn->lock);
	*gen = gsn->gen;
	list_for_each_entry(gsk, &gsn->socks, node) {
		struct graft_sock_desc d = {
			.epname = gsk->epname,
			.host = gsk->host,
			.host_net = gsk->host_net,
		};

		if (i++ < *idx)
			continue;
		d.ino = sock_i_ino(&gsk->sk);
		ret = fn(&d, arg);
		if (ret)
			break;
		(*idx)++;
	}
	mutex_unlock(&gsn->lock);
	return ret;
}

static int __net_init graft_sock_net_init(struct net *net)
{
	struct graft_sock_net *gsn = graft_sock_pernet(net);

	mutex_init(&gsn->lock);
	INIT_LIST_HEAD(&gsn->socks);
	gsn->gen = 1;
	return 0;
}

/* Every graft socket holds its namespace: the list is empty by now. */
static void __net_exit graft_sock_net_exit(struct net *net)
{
	mutex_destroy(&graft_sock_pernet(net)->lock);
}

static struct pernet_operations graft_sock_net_ops = {
	.init = graft_sock_net_init,
	.exit = graft_sock_net_exit,
	.id = &graft_sock_net_id,
	.size = sizeof(struct graft_sock_net),
};

int __init graft_socklist_init(void)
{
	return register_pernet_subsys(&graft_sock_net_ops);
}

void graft_socklist_exit(void)
{
	unregister_pernet_subsys(&graft_sock_net_ops);
}
