/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_SOCKOPT_H
#define _GRAFT_SOCKOPT_H

#include <linux/net.h>
#include <linux/sockptr.h>
#include <linux/types.h>

struct graft_sock;
struct sock;

/*
 * setsockopt(SOL_SOCKET, ...) never reaches proto_ops (the socket layer
 * applies it to the graft socket's own struct sock), so the SOL_SOCKET state
 * the application sets on the graft socket is pushed to the host socket: at
 * bind() and, when it changed, before every forwarded operation.  This is the
 * state last pushed.
 */
struct graft_sol {
	u8 reuse, reuseport, keepalive, broadcast, oobinline, linger;
	int lingertime;
	u32 priority, mark;
	int rcvlowat, rcvbuf, sndbuf;
};

/* A new graft socket: no stored option, SOL_SOCKET state as it is now. */
void graft_opts_init(struct graft_sock *gsk);
void graft_opts_free(struct graft_sock *gsk);

/* Is the last IPV6_V6ONLY stored before bind non-zero? */
bool graft_opts_v6only(struct graft_sock *gsk);

/*
 * Bring a new host socket up to the graft socket's options: the stored ones
 * in order, then the SOL_SOCKET state.  gsk->lock held.
 */
int graft_opts_apply(struct graft_sock *gsk, struct socket *host);

/* Before forwarding an operation: push what changed to the host socket. */
int graft_sol_push(struct socket *sock, struct socket *host);
void graft_sol_push_close(struct socket *sock, struct socket *host);

/*
 * The host socket of a bound socket, brought up to date for a forwarded
 * operation; ERR_PTR(@unbound) if the socket is not bound.
 */
struct socket *graft_host_synced(struct socket *sock, int unbound);

int graft_setsockopt(struct socket *sock, int level, int name,
		     sockptr_t optval, unsigned int optlen);
int graft_getsockopt(struct socket *sock, int level, int name,
		     char __user *optval, int __user *optlen);

#endif /* _GRAFT_SOCKOPT_H */
