/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_UNIXGC_H
#define _GRAFT_UNIXGC_H

#include <linux/net.h>

struct graft_sock;

/* Module load and unload (stop: no collector run is left). */
int graft_unixgc_start(void);
void graft_unixgc_stop(void);

/* A new graft socket: nothing watched yet. */
void graft_unixgc_init(struct graft_sock *gsk);
/* A unix host socket is published for @gsk: watch what arrives in it. */
void graft_unixgc_attach(struct graft_sock *gsk, struct socket *host);
/*
 * First thing in release(): @gsk is no longer watched.  A collector run
 * may have released its host socket before (then gsk->host is NULL): the
 * socket was only reachable through descriptors in flight in a cycle.
 */
void graft_unixgc_detach(struct graft_sock *gsk);

#endif /* _GRAFT_UNIXGC_H */
