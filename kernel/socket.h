/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A graft socket: a plain struct sock in the caller's namespace plus, once
 * bound, a host socket in the endpoint's target namespace.  socket.c
 * forwards the calls, sockopt.c keeps the options, socklist.c lists the
 * bound sockets of each namespace.
 */
#ifndef _GRAFT_SOCKET_H
#define _GRAFT_SOCKET_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "sockopt.h"
#include "uapi/af_graft.h"

struct graft_sock {
	struct sock sk;			/* must be first */
	struct graft_sol sol;
	struct mutex lock;		/* serialises binding and the option list */
	struct socket *host;		/* NULL until bound */
	struct net *host_net;		/* referenced while host exists */
	char epname[AF_GRAFT_EPNAME_MAX];
	u32 ep_flags;			/* the endpoint's GRAFT_EP_F_* */
	bool kernel_port;		/* the host port was the kernel's pick */
	bool name_transparent;
	u16 port_hint;
	struct list_head opts;		/* struct graft_opt, set before bind */
	unsigned int nopts;
	struct list_head node;		/* on the namespace's list once bound */
	struct list_head gc_node;	/* unixgc.c: watched (unix hosts only) */
	void (*host_data_ready)(struct sock *sk);
};

static inline struct graft_sock *graft_sk(const struct sock *sk)
{
	return (struct graft_sock *)sk;
}

/*
 * The host pointer is published once, under gsk->lock, with a release
 * store; readers use an acquire load and need no lock, since it only goes
 * away in release(), when no call is running.
 */
static inline struct socket *graft_host(struct socket *sock)
{
	return smp_load_acquire(&graft_sk(sock->sk)->host);
}

int graft_socket_init(void);
void graft_socket_exit(void);

#endif /* _GRAFT_SOCKET_H */
