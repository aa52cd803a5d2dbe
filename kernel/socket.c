// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_GRAFT socket family: creation, bind (which creates the host socket
 * in the endpoint's target namespace), and every operation forwarded to the
 * host socket.  Options are sockopt.c's, the per-namespace list of bound
 * sockets socklist.c's.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/ioctl.h>
#include <linux/termios.h>
#include <linux/sockios.h>
#include <linux/in.h>
#include <linux/un.h>
#include <net/sock.h>

#include "compat.h"
#include "endpoint.h"
#include "socket.h"
#include "socklist.h"
#include "sockopt.h"
#include "unixgc.h"

static struct proto graft_proto = {
	.name = "AF_GRAFT",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct graft_sock),
};

static const struct proto_ops graft_ops;

static struct graft_sock *graft_sk_alloc(struct net *net, struct socket *sock,
					 int protocol, int kern)
{
	struct graft_sock *gsk;
	struct sock *sk;

	sk = sk_alloc(net, PF_GRAFT, GFP_KERNEL_ACCOUNT, &graft_proto, kern);
	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	sk->sk_protocol = protocol;
	gsk = graft_sk(sk);
	mutex_init(&gsk->lock);
	INIT_LIST_HEAD(&gsk->node);
	gsk->host = NULL;
	gsk->host_net = NULL;
	gsk->ep_flags = 0;
	gsk->kernel_port = false;
	gsk->name_transparent = false;
	gsk->port_hint = 0;
	memset(gsk->epname, 0, sizeof(gsk->epname));
	graft_opts_init(gsk);
	graft_unixgc_init(gsk);
	return gsk;
}

/*
 * TCP and UDP only (and, through unix endpoints, the unix stream and
 * datagram sockets that need no protocol): 0 picks the type's default,
 * which SO_PROTOCOL then reports, as on an inet socket.
 */
static int graft_create(struct net *net, struct socket *sock, int protocol,
			int kern)
{
	if (sock->type == SOCK_STREAM) {
		if (protocol && protocol != IPPROTO_TCP)
			return -EPROTONOSUPPORT;
		protocol = IPPROTO_TCP;
	} else if (sock->type == SOCK_DGRAM) {
		if (protocol && protocol != IPPROTO_UDP)
			return -EPROTONOSUPPORT;
		protocol = IPPROTO_UDP;
	} else {
		return -ESOCKTNOSUPPORT;
	}

	sock->state = SS_UNCONNECTED;
	sock->ops = &graft_ops;
	graft_take_sol_socket(sock);
	if (!graft_sk_alloc(net, sock, protocol, kern))
		return -ENOMEM;
	return 0;
}

static int graft_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct graft_sock *gsk;

	if (!sk)
		return 0;
	gsk = graft_sk(sk);
	/* First: unixgc.c may have released the host socket already. */
	graft_unixgc_detach(gsk);
	if (gsk->host) {
		/*
		 * SO_LINGER set since the last call decides how the host
		 * socket closes (SO_LINGER 0: a reset, no TIME_WAIT).
		 */
		graft_sol_push_close(sock, gsk->host);
		graft_sock_unlink(gsk);
		sock_release(gsk->host);
		gsk->host = NULL;
		put_net(gsk->host_net);
		gsk->host_net = NULL;
	}
	graft_opts_free(gsk);
	mutex_destroy(&gsk->lock);

	sock_orphan(sk);
	sock->sk = NULL;
	sock_put(sk);
	return 0;
}

/*
 * The host socket is a user socket, made with the credentials of the
 * process binding the graft socket, as if it had called socket() in the
 * target namespace: LSM and cgroup-BPF socket hooks apply, and it holds a
 * reference on its namespace.  A kernel socket (sock_create_kern) would hold
 * none, and since 6.9 (and in stable kernels) tcp_close() stops such a
 * socket's timers at once: unacknowledged data and the FIN queued at close()
 * would never be retransmitted.
 */
static int graft_host_create(struct net *net, int family, int type, int proto,
			     struct socket **res)
{
	return __sock_create(net, family, type, proto, res, 0);
}

/*
 * A stream socket whose port the kernel picks: let connect() pick it with
 * the whole 4-tuple, as for an unbound socket (a port in TIME_WAIT towards
 * another peer is fine then), instead of bind() reserving one; listen()
 * picks one too.  The broker does the same.
 */
static void graft_host_port_later(struct graft_sock *gsk, struct socket *host)
{
	if (gsk->kernel_port && host->type == SOCK_STREAM)
		graft_set_bind_no_port(host->sk);
}

/*
 * Create the host socket for @t, replay the stored options, bind it and
 * publish it.  Called with gsk->lock held; consumes the reference on t->net.
 */
static int graft_attach(struct socket *sock, struct graft_target *t,
			const char *epname)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	int family = graft_ep_family(t);
	struct graft_sol sol = gsk->sol;
	struct socket *host;
	int ret;

	/* A socket that refuses IPv4 traffic gets no IPv4 host socket. */
	ret = -EADDRNOTAVAIL;
	if (family == AF_INET && graft_opts_v6only(gsk))
		goto err_net;
	ret = graft_host_create(t->net, family, sock->type,
				family == AF_UNIX ? 0 : sock->sk->sk_protocol,
				&host);
	if (ret)
		goto err_net;

	gsk->ep_flags = t->flags;
	gsk->kernel_port = family != AF_UNIX && !gsk->port_hint &&
			   (t->flags & GRAFT_EP_F_DYNAMIC_PORT);
	ret = graft_opts_apply(gsk, host);
	if (ret)
		goto err_sock;

	if ((t->flags & GRAFT_EP_F_DYNAMIC_PORT) && gsk->port_hint) {
		if (family == AF_INET)
			t->addr.sin.sin_port = htons(gsk->port_hint);
		else if (family == AF_INET6)
			t->addr.sin6.sin6_port = htons(gsk->port_hint);
	}
	graft_host_port_later(gsk, host);
	ret = kernel_bind(host, (struct sockaddr_unsized *)&t->addr.sa, t->addrlen);
	if (ret)
		goto err_sock;

	graft_opts_free(gsk);
	strscpy(gsk->epname, epname, sizeof(gsk->epname));
	gsk->host_net = t->net;
	smp_store_release(&gsk->host, host);
	graft_unixgc_attach(gsk, host);
	graft_sock_link(gsk);
	return 0;

err_sock:
	/* Nothing was pushed to a host socket that stays. */
	gsk->sol = sol;
	gsk->ep_flags = 0;
	gsk->kernel_port = false;
	sock_release(host);
err_net:
	put_net(t->net);
	return ret;
}

static int graft_bind(struct socket *sock, struct sockaddr_unsized *uaddr, int len)
{
	struct sockaddr_gr *sgr = (struct sockaddr_gr *)uaddr;
	struct graft_sock *gsk = graft_sk(sock->sk);
	char name[AF_GRAFT_EPNAME_MAX] = { 0 };
	struct graft_target t;
	int namelen, ret;

	if (len < (int)offsetof(struct sockaddr_gr, sgr_epname) + 1)
		return -EINVAL;
	if (sgr->sgr_family != AF_GRAFT)
		return -EAFNOSUPPORT;
	namelen = min_t(int, len - offsetof(struct sockaddr_gr, sgr_epname),
			AF_GRAFT_EPNAME_MAX);
	memcpy(name, sgr->sgr_epname, namelen);
	if (strnlen(name, AF_GRAFT_EPNAME_MAX) == AF_GRAFT_EPNAME_MAX)
		return -ENAMETOOLONG;
	if (!name[0])
		return -EINVAL;

	mutex_lock(&gsk->lock);
	if (gsk->host) {
		ret = -EINVAL;
		goto out;
	}
	ret = graft_ep_lookup(sock_net(sock->sk), name, &t);
	if (ret) {
		ret = -EADDRNOTAVAIL;
		goto out;
	}
	ret = graft_attach(sock, &t, name);
out:
	mutex_unlock(&gsk->lock);
	return ret;
}

/* connect()/sendto() on an unbound socket: bind to the default endpoint. */
static struct socket *graft_autobind(struct socket *sock, int family, int *err)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	char name[AF_GRAFT_EPNAME_MAX];
	struct graft_target t;
	struct socket *host;

	mutex_lock(&gsk->lock);
	host = gsk->host;
	if (host)
		goto out;
	*err = -EDESTADDRREQ;
	if (family != AF_INET && family != AF_INET6)
		goto out;
	if (graft_ep_lookup_default(sock_net(sock->sk), family, name, &t))
		goto out;
	*err = graft_attach(sock, &t, name);
	if (!*err)
		host = gsk->host;
out:
	mutex_unlock(&gsk->lock);
	return host;
}

/*
 * A unix host socket lives in the target namespace, whose abstract
 * addresses (unlike paths, which resolve in the caller's mount namespace
 * with the caller's rights) are out of the caller's reach: only an endpoint
 * flagged GRAFT_EP_F_ABSTRACT lets them through.
 */
static int graft_dest_check(struct socket *sock, struct socket *host,
			    const struct sockaddr *addr, int len)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)addr;

	if (!addr || host->sk->sk_family != AF_UNIX ||
	    (graft_sk(sock->sk)->ep_flags & GRAFT_EP_F_ABSTRACT))
		return 0;
	if (len > (int)offsetof(struct sockaddr_un, sun_path) &&
	    sun->sun_family == AF_UNIX && !sun->sun_path[0])
		return -EPERM;
	return 0;
}

static int graft_connect(struct socket *sock, struct sockaddr_unsized *addr,
			 int len, int flags)
{
	struct socket *host = graft_host(sock);
	int ret;

	if (!host) {
		if (len < (int)sizeof(addr->sa_family))
			return -EINVAL;
		host = graft_autobind(sock, addr->sa_family, &ret);
		if (!host)
			return ret;
	}
	ret = graft_dest_check(sock, host, (const struct sockaddr *)addr, len);
	if (!ret)
		ret = graft_sol_push(sock, host);
	if (ret)
		return ret;
	ret = host->ops->connect(host, addr, len, flags);
	sock->state = host->state;
	return ret;
}

static int graft_listen(struct socket *sock, int backlog)
{
	struct socket *host = graft_host_synced(sock, -EINVAL);
	int ret;

	if (IS_ERR(host))
		return PTR_ERR(host);
	ret = host->ops->listen(host, backlog);
	if (!ret)
		sock->sk->sk_state = TCP_LISTEN;
	return ret;
}

static int graft_do_accept(struct socket *sock, struct socket *newsock,
			   int flags, bool kern)
{
	struct graft_sock *gsk = graft_sk(sock->sk), *ngsk;
	struct socket *host = graft_host_synced(sock, -EINVAL);
	struct socket *nhost;
	int ret;

	if (IS_ERR(host))
		return PTR_ERR(host);
	ret = kernel_accept(host, &nhost, flags);
	if (ret)
		return ret;

	ngsk = graft_sk_alloc(sock_net(sock->sk), newsock,
			      sock->sk->sk_protocol, kern);
	if (!ngsk) {
		sock_release(nhost);
		return -ENOMEM;
	}
	ngsk->name_transparent = gsk->name_transparent;
	ngsk->ep_flags = gsk->ep_flags;
	ngsk->kernel_port = gsk->kernel_port;
	memcpy(ngsk->epname, gsk->epname, sizeof(ngsk->epname));
	ngsk->host_net = get_net(gsk->host_net);
	ngsk->host = nhost;
	graft_unixgc_attach(ngsk, nhost);
	ngsk->sk.sk_state = TCP_ESTABLISHED;
	newsock->state = SS_CONNECTED;
	graft_take_sol_socket(newsock);
	graft_sock_link(ngsk);
	return 0;
}

GRAFT_DEFINE_ACCEPT(graft_accept, graft_do_accept)

static int graft_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	struct socket *host = graft_host(sock);
	struct sockaddr_gr *sgr = (struct sockaddr_gr *)uaddr;

	if (host && (peer || gsk->name_transparent))
		return host->ops->getname(host, uaddr, peer);
	if (peer)
		return -ENOTCONN;
	memset(sgr, 0, sizeof(*sgr));
	sgr->sgr_family = AF_GRAFT;
	if (host)
		memcpy(sgr->sgr_epname, gsk->epname, sizeof(sgr->sgr_epname));
	return sizeof(*sgr);
}

static __poll_t graft_poll(struct file *file, struct socket *sock,
			   poll_table *wait)
{
	struct socket *host = graft_host(sock);
	struct sock *sk = sock->sk;
	int err;

	if (!host) {
		__poll_t mask = EPOLLOUT | EPOLLWRNORM;

		return sock->type == SOCK_STREAM ? mask | EPOLLHUP : mask;
	}
	/*
	 * getsockopt(SO_ERROR) reads the graft socket: mirror the host's
	 * pending error, e.g. a failed non-blocking connect().
	 */
	err = READ_ONCE(host->sk->sk_err);
	if (err && !READ_ONCE(sk->sk_err))
		WRITE_ONCE(sk->sk_err, err);
	return host->ops->poll(file, host, wait);
}

/*
 * The ioctls a program needs of its own socket are forwarded to the host
 * socket.  Any other (interface, route, ARP requests...) would act on the
 * target namespace with whatever capabilities the caller has there: it is
 * left to the socket layer (ENOIOCTLCMD), which hands the device ones to the
 * graft socket's own namespace, as for any socket living there.
 */
static bool graft_ioctl_forwarded(unsigned int cmd)
{
	switch (cmd) {
	case SIOCINQ:		/* FIONREAD */
	case SIOCOUTQ:		/* TIOCOUTQ */
	case SIOCOUTQNSD:
	case SIOCATMARK:
		return true;
	}
	return false;
}

static int graft_ioctl(struct socket *sock, unsigned int cmd,
		       unsigned long arg)
{
	struct socket *host = graft_host(sock);

	if (!host || !host->ops->ioctl || !graft_ioctl_forwarded(cmd))
		return -ENOIOCTLCMD;
	return host->ops->ioctl(host, cmd, arg);
}

/* SIOCGSTAMP and SIOCGSTAMPNS, old and new. */
static int graft_gettstamp(struct socket *sock, void __user *userstamp,
			   bool timeval, bool time32)
{
	struct socket *host = graft_host(sock);

	if (!host || !host->ops->gettstamp)
		return -ENOIOCTLCMD;
	return host->ops->gettstamp(host, userstamp, timeval, time32);
}

static int graft_shutdown(struct socket *sock, int how)
{
	struct socket *host = graft_host(sock);

	if (!host)
		return -ENOTCONN;
	return host->ops->shutdown(host, how);
}

static int graft_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct socket *host = graft_host(sock);
	int ret;

	if (!host) {
		struct sockaddr *sa = msg->msg_name;

		if (sock->type == SOCK_STREAM)
			return -ENOTCONN;
		if (!sa || msg->msg_namelen < (int)sizeof(sa->sa_family))
			return -EDESTADDRREQ;
		host = graft_autobind(sock, sa->sa_family, &ret);
		if (!host)
			return ret;
	}
	ret = graft_dest_check(sock, host, msg->msg_name, msg->msg_namelen);
	if (!ret)
		ret = graft_sol_push(sock, host);
	if (ret)
		return ret;
	return sock_sendmsg(host, msg);
}

static int graft_recvmsg(struct socket *sock, struct msghdr *msg, size_t size,
			 int flags)
{
	struct socket *host = graft_host_synced(sock, -ENOTCONN);

	if (IS_ERR(host))
		return PTR_ERR(host);
	return sock_recvmsg(host, msg, flags);
}

static const struct proto_ops graft_ops = {
	.family = PF_GRAFT,
	.owner = THIS_MODULE,
	.release = graft_release,
	.bind = graft_bind,
	.connect = graft_connect,
	.socketpair = sock_no_socketpair,
	.accept = graft_accept,
	.getname = graft_getname,
	.poll = graft_poll,
	.ioctl = graft_ioctl,
	.gettstamp = graft_gettstamp,
	.listen = graft_listen,
	.shutdown = graft_shutdown,
	.setsockopt = graft_setsockopt,
	.getsockopt = graft_getsockopt,
	.sendmsg = graft_sendmsg,
	.recvmsg = graft_recvmsg,
	.mmap = sock_no_mmap,
};

static const struct net_proto_family graft_family = {
	.family = PF_GRAFT,
	.create = graft_create,
	.owner = THIS_MODULE,
};

int graft_socket_init(void)
{
	int ret;

	ret = proto_register(&graft_proto, 1);
	if (ret)
		return ret;
	ret = sock_register(&graft_family);
	if (ret) {
		pr_err("address family %d is taken (is the ipx module loaded?)\n",
		       PF_GRAFT);
		proto_unregister(&graft_proto);
	}
	return ret;
}

void graft_socket_exit(void)
{
	sock_unregister(PF_GRAFT);
	proto_unregister(&graft_proto);
}
