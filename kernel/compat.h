/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels af_graft builds on (5.10 and later)
 * lives here.  The COMPAT_HAVE_* flags are probed from the target kernel's
 * headers by Kbuild; the code elsewhere is written against the newest API.
 */
#ifndef _GRAFT_COMPAT_H
#define _GRAFT_COMPAT_H

#include <linux/net.h>
#include <linux/netlink.h>
#include <net/genetlink.h>

/*
 * 6.10 folded accept()'s flags and kern arguments into struct
 * proto_accept_arg.  The graft accept handler takes (flags, kern) and is
 * wrapped for the kernel's signature by GRAFT_DEFINE_ACCEPT.
 */
#ifdef COMPAT_HAVE_PROTO_ACCEPT_ARG
#define GRAFT_DEFINE_ACCEPT(name, impl)					\
	static int name(struct socket *sock, struct socket *newsock,	\
			struct proto_accept_arg *arg)			\
	{								\
		return impl(sock, newsock, arg->flags, arg->kern);	\
	}
#else
#define GRAFT_DEFINE_ACCEPT(name, impl)					\
	static int name(struct socket *sock, struct socket *newsock,	\
			int flags, bool kern)				\
	{								\
		return impl(sock, newsock, flags, kern);		\
	}
#endif

/* 6.1 added the reserved-header validation start; older kernels validate
 * every op strictly unless told otherwise, which is what we want anyway. */
#ifdef COMPAT_HAVE_GENL_RESV_START_OP
#define GRAFT_GENL_RESV_START_OP(op) .resv_start_op = (op),
#else
#define GRAFT_GENL_RESV_START_OP(op)
#endif

/*
 * Newer kernels (Debian unstable's 7.2 has it) pass proto_ops bind/connect
 * and kernel_bind/kernel_connect a struct sockaddr_unsized * (a sockaddr
 * whose size is the length argument); before, a struct sockaddr *, with the
 * same layout.
 */
#ifndef COMPAT_HAVE_SOCKADDR_UNSIZED
#define sockaddr_unsized sockaddr
#endif

/* 5.17 added missing-attribute reporting in the extended ack. */
#ifndef COMPAT_HAVE_NL_SET_ERR_ATTR_MISS
#define NL_SET_ERR_ATTR_MISS(extack, nest, type) do { } while (0)
#endif

/*
 * 6.2 lets a family take setsockopt(SOL_SOCKET) itself (SOCK_CUSTOM_SOCKOPT);
 * before, the socket layer applies it to the graft socket, and refuses
 * SO_REUSEPORT there (not an inet socket).
 */
#ifdef COMPAT_HAVE_SOCK_CUSTOM_SOCKOPT
static inline void graft_take_sol_socket(struct socket *sock)
{
	set_bit(SOCK_CUSTOM_SOCKOPT, &sock->flags);
}
#else
static inline void graft_take_sol_socket(struct socket *sock)
{
}
#endif

#endif /* _GRAFT_COMPAT_H */
