/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_UNIXGC_H
#define _GRAFT_UNIXGC_H

#include <linux/net.h>

struct graft_sock;

/* A new graft socket: nothing watched yet. */
void graft_unixgc_init(struct graft_sock *gsk);
/* A unix host socket is published for @gsk: watch what arrives in it. */
void graft_unixgc_attach(struct graft_sock *gsk, struct socket *host);
/* In release(), before the host socket goes. */
void graft_unixgc_detach(struct graft_sock *gsk);

#endif /* _GRAFT_UNIXGC_H */
