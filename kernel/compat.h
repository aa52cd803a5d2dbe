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
#include <net/inet_sock.h>

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

/*
 * IP_BIND_ADDRESS_NO_PORT on a host socket nobody else sees yet: set the
 * flag itself rather than through ip_setsockopt() (which takes the socket
 * lock on 6.1).  A bit of inet_sock's flags word since 6.6, a bitfield of
 * its own before.
 */
#ifdef COMPAT_HAVE_INET_FLAGS_BIND_NO_PORT
static inline void graft_set_bind_no_port(struct sock *sk)
{
	inet_set_bit(BIND_ADDRESS_NO_PORT, sk);
}
#else
static inline void graft_set_bind_no_port(struct sock *sk)
{
	inet_sk(sk)->bind_address_no_port = 1;
}
#endif

/*
 * unixgc.c reads which files a unix socket's queued message carries: the
 * fp member of the message's control block, UNIXCB(skb).  Up to 6.12 that
 * is in <net/af_unix.h>.  Later kernels (7.2) moved struct unix_skb_parms
 * and UNIXCB into net/unix/af_unix.h, which no headers package ships; their
 * public header still has struct unix_sock and its scm_stat.  The private
 * struct starts { struct pid *pid; kuid_t uid; kgid_t gid; struct
 * scm_fp_list *fp; ... } in every kernel since 5.x, mirrored here up to fp.
 * With a randomized struct layout (CONFIG_RANDSTRUCT) nothing can be
 * mirrored, and GRAFT_UNIX_SKB_FP stays undefined: unixgc.c then does
 * nothing.  unixgc.c also refuses a pointer that cannot be a kmalloc()ed
 * scm_fp_list (virt_addr_valid()), in case the layout moved after all.
 */
#if defined(COMPAT_HAVE_UNIXCB)
#define GRAFT_UNIX_SKB_FP(skb) (UNIXCB(skb).fp)
#elif defined(COMPAT_HAVE_UNIX_SCM_STAT) && \
	!defined(CONFIG_RANDSTRUCT) && !defined(CONFIG_GCC_PLUGIN_RANDSTRUCT)
#include <linux/uidgid.h>
struct scm_fp_list;
struct graft_unix_skb_parms {
	struct pid *pid;
	kuid_t uid;
	kgid_t gid;
	struct scm_fp_list *fp;
};
#define GRAFT_UNIX_SKB_FP(skb) \
	(((struct graft_unix_skb_parms *)&(skb)->cb)->fp)
#endif

#endif /* _GRAFT_COMPAT_H */
