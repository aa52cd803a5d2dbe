// SPDX-License-Identifier: GPL-2.0
/*
 * The bound graft sockets of each namespace (the namespace of the graft
 * socket), for GRAFT_CMD_SOCK_GET.  A socket is linked once its host socket
 * is published and unlinked in release() before the host socket goes, both
 * under the list's mutex, so a walker holding that mutex may use the host
 * socket of every socket it finds.
 */
#include <net/sock.h>

#include "listwalk.h"
#include "pernet.h"
#include "socket.h"
#include "socklist.h"

static struct graft_sock_net *graft_sock_pernet(struct net *net)
{
	return &graft_net(net)->socks;
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

/* The socket as GRAFT_CMD_SOCK_GET reports it, to @fn. */
static int graft_sock_desc_call(struct graft_sock *gsk,
				int (*fn)(const struct graft_sock_desc *d,
					  void *arg),
				void *arg)
{
	struct graft_sock_desc d = {
		.ino = sock_i_ino(&gsk->sk),
		.epname = gsk->epname,
		.host = gsk->host,
		.host_net = gsk->host_net,
	};

	return fn(&d, arg);
}

int graft_sock_walk(struct net *net, unsigned long *idx, unsigned int *gen,
		    int (*fn)(const struct graft_sock_desc *d, void *arg),
		    void *arg)
{
	struct graft_sock_net *gsn = graft_sock_pernet(net);
	struct graft_sock *gsk;
	int ret;

	mutex_lock(&gsn->lock);
	*gen = gsn->gen;
	ret = graft_list_walk(gsk, &gsn->socks, node, idx,
			      graft_sock_desc_call(gsk, fn, arg));
	mutex_unlock(&gsn->lock);
	return ret;
}

void graft_sock_net_init(struct graft_sock_net *gsn)
{
	mutex_init(&gsn->lock);
	INIT_LIST_HEAD(&gsn->socks);
	gsn->gen = 1;
}

/* Every graft socket holds its namespace: the list is empty by now. */
void graft_sock_net_exit(struct graft_sock_net *gsn)
{
	mutex_destroy(&gsn->lock);
}
