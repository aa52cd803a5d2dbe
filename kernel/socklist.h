/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_SOCKLIST_H
#define _GRAFT_SOCKLIST_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <net/net_namespace.h>

struct graft_sock;

/* The bound graft sockets of a namespace (struct graft_net, pernet.h). */
struct graft_sock_net {
	struct mutex lock;		/* protects socks and gen */
	struct list_head socks;
	unsigned int gen;		/* bumped on every change of socks */
};

void graft_sock_net_init(struct graft_sock_net *gsn);
void graft_sock_net_exit(struct graft_sock_net *gsn);

/* A bound graft socket, as GRAFT_CMD_SOCK_GET reports it. */
struct graft_sock_desc {
	unsigned long ino;		/* the graft socket's inode */
	const char *epname;		/* the endpoint it was bound through */
	struct socket *host;		/* valid while the walk's callback runs */
	struct net *host_net;
};

/* The host socket is published: list the socket in its namespace. */
void graft_sock_link(struct graft_sock *gsk);
/* In release(), before the host socket goes. */
void graft_sock_unlink(struct graft_sock *gsk);

/*
 * Call @fn for each bound graft socket of @net starting at index *@idx,
 * under the namespace's socket-list mutex (so @fn may sleep, and each host
 * socket stays alive while @fn runs), until @fn returns non-zero; *@idx is
 * left at the first socket not done and *@gen at the list's generation,
 * which changes whenever a socket is bound or released.
 */
int graft_sock_walk(struct net *net, unsigned long *idx, unsigned int *gen,
		    int (*fn)(const struct graft_sock_desc *d, void *arg),
		    void *arg);

#endif /* _GRAFT_SOCKLIST_H */
