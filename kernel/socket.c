// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_GRAFT socket family.
 *
 * A graft socket is a plain struct sock in the caller's namespace plus, once
 * bound, a host socket: a kernel socket in the endpoint's target namespace to
 * which every operation is forwarded.  The host pointer is published once,
 * under gsk->lock, with a release store; readers use an acquire load and need
 * no lock, since it only goes away in release(), when no call is running.
 *
 * Bound graft sockets are also kept on a per-namespace list (the namespace
 * of the graft socket), for GRAFT_CMD_SOCK_GET.  A socket is linked once its
 * host socket is published and unlinked in release() before the host socket
 * goes, both under the list's mutex, so a walker holding that mutex may use
 * the host socket of every socket it finds.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include <linux/mutex.h>
#include <net/netns/generic.h>
#include <net/sock.h>

#include "compat.h"
#include "endpoint.h"
#include "socket.h"

#define GRAFT_OPTS_MAX 32
#define GRAFT_OPTLEN_MAX 128

/* A socket option set before bind(), replayed on the host socket. */
struct graft_opt {
	struct list_head list;
	int level, name;
	unsigned int len;
	u8 val[];
};

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

struct graft_sock {
	struct sock sk;			/* must be first */
	struct graft_sol sol;
	struct mutex lock;		/* serialises binding and the option list */
	struct socket *host;		/* NULL until bound */
	struct net *host_net;		/* referenced while host exists */
	char epname[AF_GRAFT_EPNAME_MAX];
	bool name_transparent;
	u16 port_hint;
	struct list_head opts;
	unsigned int nopts;
	struct list_head node;		/* on graft_sock_net.socks once bound */
};

struct graft_sock_net {
	struct mutex lock;		/* protects socks and gen */
	struct list_head socks;
	unsigned int gen;		/* bumped on every change of socks */
};

static unsigned int graft_sock_net_id __read_mostly;

static struct proto graft_proto = {
	.name = "AF_GRAFT",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct graft_sock),
};

static const struct proto_ops graft_ops;

static struct graft_sock *graft_sk(const struct sock *sk)
{
	return (struct graft_sock *)sk;
}

static struct socket *graft_host(struct socket *sock)
{
	return smp_load_acquire(&graft_sk(sock->sk)->host);
}

static struct graft_sock_net *graft_sock_pernet(struct net *net)
{
	return net_generic(net, graft_sock_net_id);
}

/* The host socket is published: list the socket in its namespace. */
static void graft_sock_link(struct graft_sock *gsk)
{
	struct graft_sock_net *gsn = graft_sock_pernet(sock_net(&gsk->sk));

	mutex_lock(&gsn->lock);
	list_add_tail(&gsk->node, &gsn->socks);
	gsn->gen++;
	mutex_unlock(&gsn->lock);
}

static void graft_sock_unlink(struct graft_sock *gsk)
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

static void graft_sol_capture(const struct sock *sk, struct graft_sol *s)
{
	memset(s, 0, sizeof(*s));
	s->reuse = sk->sk_reuse;
	s->reuseport = sk->sk_reuseport;
	s->keepalive = sock_flag(sk, SOCK_KEEPOPEN);
	s->broadcast = sock_flag(sk, SOCK_BROADCAST);
	s->oobinline = sock_flag(sk, SOCK_URGINLINE);
	s->linger = sock_flag(sk, SOCK_LINGER);
	s->lingertime = s->linger ? sk->sk_lingertime / HZ : 0;
	s->priority = READ_ONCE(sk->sk_priority);
	s->mark = READ_ONCE(sk->sk_mark);
	s->rcvlowat = READ_ONCE(sk->sk_rcvlowat);
	if (sk->sk_userlocks & SOCK_RCVBUF_LOCK)
		s->rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	if (sk->sk_userlocks & SOCK_SNDBUF_LOCK)
		s->sndbuf = READ_ONCE(sk->sk_sndbuf);
}

static int graft_sol_set(struct socket *host, int name, int val)
{
	return sock_setsockopt(host, SOL_SOCKET, name, KERNEL_SOCKPTR(&val),
			       sizeof(val));
}

/* Push the SOL_SOCKET changes made since the last push; gsk->lock held. */
static int __graft_sol_push(struct graft_sock *gsk, struct socket *host)
{
	struct graft_sol now, *was = &gsk->sol;
	int ret = 0;

	graft_sol_capture(&gsk->sk, &now);
#define GRAFT_SOL_PUSH(field, name)					\
	do {								\
		if (!ret && now.field != was->field)			\
			ret = graft_sol_set(host, name, now.field);	\
	} while (0)
	GRAFT_SOL_PUSH(reuse, SO_REUSEADDR);
	GRAFT_SOL_PUSH(reuseport, SO_REUSEPORT);
	GRAFT_SOL_PUSH(keepalive, SO_KEEPALIVE);
	GRAFT_SOL_PUSH(broadcast, SO_BROADCAST);
	GRAFT_SOL_PUSH(oobinline, SO_OOBINLINE);
	GRAFT_SOL_PUSH(priority, SO_PRIORITY);
	GRAFT_SOL_PUSH(mark, SO_MARK);
	GRAFT_SOL_PUSH(rcvlowat, SO_RCVLOWAT);
#undef GRAFT_SOL_PUSH
	/* The socket layer stores twice the requested buffer sizes. */
	if (!ret && now.rcvbuf != was->rcvbuf && now.rcvbuf)
		ret = graft_sol_set(host, SO_RCVBUF, now.rcvbuf / 2);
	if (!ret && now.sndbuf != was->sndbuf && now.sndbuf)
		ret = graft_sol_set(host, SO_SNDBUF, now.sndbuf / 2);
	if (!ret && (now.linger != was->linger ||
		     now.lingertime != was->lingertime)) {
		struct linger l = {
			.l_onoff = now.linger,
			.l_linger = now.lingertime,
		};

		ret = sock_setsockopt(host, SOL_SOCKET, SO_LINGER,
				      KERNEL_SOCKPTR(&l), sizeof(l));
	}
	if (!ret)
		*was = now;
	return ret;
}

static void graft_sol_timeouts(struct sock *sk, struct sock *hsk)
{
	/* Plain fields, read where they are used: copy them. */
	if (READ_ONCE(hsk->sk_rcvtimeo) != READ_ONCE(sk->sk_rcvtimeo))
		WRITE_ONCE(hsk->sk_rcvtimeo, READ_ONCE(sk->sk_rcvtimeo));
	if (READ_ONCE(hsk->sk_sndtimeo) != READ_ONCE(sk->sk_sndtimeo))
		WRITE_ONCE(hsk->sk_sndtimeo, READ_ONCE(sk->sk_sndtimeo));
}

/* Before forwarding an operation: bring the host socket up to date. */
static int graft_sol_push(struct socket *sock, struct socket *host)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	struct graft_sol now;
	int ret;

	graft_sol_timeouts(sock->sk, host->sk);
	graft_sol_capture(sock->sk, &now);
	if (likely(!memcmp(&now, &gsk->sol, sizeof(now))))
		return 0;
	mutex_lock(&gsk->lock);
	ret = __graft_sol_push(gsk, host);
	mutex_unlock(&gsk->lock);
	return ret;
}

/*
 * The host socket of a bound socket, brought up to date for a forwarded
 * operation; ERR_PTR(@unbound) if the socket is not bound.
 */
static struct socket *graft_host_synced(struct socket *sock, int unbound)
{
	struct socket *host = graft_host(sock);
	int ret;

	if (!host)
		return ERR_PTR(unbound);
	ret = graft_sol_push(sock, host);
	return ret ? ERR_PTR(ret) : host;
}

static struct graft_sock *graft_sk_alloc(struct net *net, struct socket *sock,
					 int protocol, int kern)
{
	struct graft_sock *gsk;
	struct sock *sk;

	sk = sk_alloc(net, PF_GRAFT, GFP_KERNEL, &graft_proto, kern);
	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	sk->sk_protocol = protocol;
	gsk = graft_sk(sk);
	mutex_init(&gsk->lock);
	INIT_LIST_HEAD(&gsk->opts);
	INIT_LIST_HEAD(&gsk->node);
	gsk->host = NULL;
	gsk->host_net = NULL;
	gsk->nopts = 0;
	gsk->name_transparent = false;
	gsk->port_hint = 0;
	memset(gsk->epname, 0, sizeof(gsk->epname));
	graft_sol_capture(sk, &gsk->sol);
	return gsk;
}

static int graft_create(struct net *net, struct socket *sock, int protocol,
			int kern)
{
	if (sock->type != SOCK_STREAM && sock->type != SOCK_DGRAM)
		return -ESOCKTNOSUPPORT;
	if (protocol < 0 || protocol >= IPPROTO_MAX)
		return -EINVAL;

	sock->state = SS_UNCONNECTED;
	sock->ops = &graft_ops;
	if (!graft_sk_alloc(net, sock, protocol, kern))
		return -ENOMEM;
	return 0;
}

static void graft_opts_free(struct graft_sock *gsk)
{
	struct graft_opt *o, *tmp;

	list_for_each_entry_safe(o, tmp, &gsk->opts, list) {
		list_del(&o->list);
		kfree(o);
	}
	gsk->nopts = 0;
}

static int graft_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct graft_sock *gsk;

	if (!sk)
		return 0;
	gsk = graft_sk(sk);
	if (gsk->host) {
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

static int graft_host_setsockopt(struct socket *host, int level, int name,
				 sockptr_t val, unsigned int len)
{
	if (level == SOL_SOCKET)
		return sock_setsockopt(host, level, name, val, len);
	if (!host->ops->setsockopt)
		return -EOPNOTSUPP;
	return host->ops->setsockopt(host, level, name, val, len);
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
	struct socket *host;
	struct graft_opt *o;
	int ret;

	ret = sock_create_kern(t->net, family, sock->type,
			       family == AF_UNIX ? 0 : sock->sk->sk_protocol,
			       &host);
	if (ret)
		goto err_net;

	list_for_each_entry(o, &gsk->opts, list) {
		ret = graft_host_setsockopt(host, o->level, o->name,
					    KERNEL_SOCKPTR(o->val), o->len);
		/* An option of another family's level: skip it. */
		if (ret == -ENOPROTOOPT)
			continue;
		if (ret)
			goto err_sock;
	}

	graft_sol_timeouts(sock->sk, host->sk);
	ret = __graft_sol_push(gsk, host);
	if (ret)
		goto err_sock;

	if ((t->flags & GRAFT_EP_F_DYNAMIC_PORT) && gsk->port_hint) {
		if (family == AF_INET)
			t->addr.sin.sin_port = htons(gsk->port_hint);
		else if (family == AF_INET6)
			t->addr.sin6.sin6_port = htons(gsk->port_hint);
	}

	ret = kernel_bind(host, &t->addr.sa, t->addrlen);
	if (ret)
		goto err_sock;

	graft_opts_free(gsk);
	strscpy(gsk->epname, epname, sizeof(gsk->epname));
	gsk->host_net = t->net;
	smp_store_release(&gsk->host, host);
	graft_sock_link(gsk);
	return 0;

err_sock:
	sock_release(host);
err_net:
	put_net(t->net);
	return ret;
}

static int graft_bind(struct socket *sock, struct sockaddr *uaddr, int len)
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

static int graft_connect(struct socket *sock, struct sockaddr *addr, int len,
			 int flags)
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
	memcpy(ngsk->epname, gsk->epname, sizeof(ngsk->epname));
	ngsk->host_net = get_net(gsk->host_net);
	ngsk->host = nhost;
	ngsk->sk.sk_state = TCP_ESTABLISHED;
	newsock->state = SS_CONNECTED;
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

static int graft_ioctl(struct socket *sock, unsigned int cmd,
		       unsigned long arg)
{
	struct socket *host = graft_host(sock);

	if (!host || !host->ops->ioctl)
		return -ENOIOCTLCMD;
	return host->ops->ioctl(host, cmd, arg);
}

static int graft_shutdown(struct socket *sock, int how)
{
	struct socket *host = graft_host(sock);

	if (!host)
		return -ENOTCONN;
	return host->ops->shutdown(host, how);
}

static int graft_setsockopt_graft(struct graft_sock *gsk, int name,
				  sockptr_t optval, unsigned int optlen)
{
	int val;

	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;

	switch (name) {
	case GRAFT_NAME_TRANSPARENT:
		gsk->name_transparent = !!val;
		return 0;
	case GRAFT_PORT_HINT:
		if (val < 0 || val > 65535)
			return -EINVAL;
		gsk->port_hint = val;
		return 0;
	}
	return -ENOPROTOOPT;
}

static int graft_setsockopt(struct socket *sock, int level, int name,
			    sockptr_t optval, unsigned int optlen)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	struct socket *host;
	struct graft_opt *o;
	int ret;

	if (level == SOL_GRAFT)
		return graft_setsockopt_graft(gsk, name, optval, optlen);

	host = graft_host(sock);
	if (host)
		return graft_host_setsockopt(host, level, name, optval, optlen);

	/* Unbound: store the option, to replay it at bind(). */
	if (optlen > GRAFT_OPTLEN_MAX)
		return -ENOBUFS;
	o = kmalloc(struct_size(o, val, optlen), GFP_KERNEL);
	if (!o)
		return -ENOMEM;
	o->level = level;
	o->name = name;
	o->len = optlen;
	if (copy_from_sockptr(o->val, optval, optlen)) {
		kfree(o);
		return -EFAULT;
	}

	mutex_lock(&gsk->lock);
	host = gsk->host;
	if (host) {
		/* Bound meanwhile. */
		mutex_unlock(&gsk->lock);
		ret = graft_host_setsockopt(host, level, name,
					    KERNEL_SOCKPTR(o->val), optlen);
		kfree(o);
		return ret;
	}
	if (gsk->nopts >= GRAFT_OPTS_MAX) {
		mutex_unlock(&gsk->lock);
		kfree(o);
		return -ENOBUFS;
	}
	list_add_tail(&o->list, &gsk->opts);
	gsk->nopts++;
	mutex_unlock(&gsk->lock);
	return 0;
}

static int graft_getsockopt_stored(struct graft_sock *gsk, int level, int name,
				   char __user *optval, int __user *optlen)
{
	struct graft_opt *o, *found = NULL;
	int len, ret = -ENOTCONN;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;

	mutex_lock(&gsk->lock);
	list_for_each_entry(o, &gsk->opts, list)
		if (o->level == level && o->name == name)
			found = o;	/* the last one set wins */
	if (found) {
		len = min_t(int, len, found->len);
		ret = 0;
		if (copy_to_user(optval, found->val, len) ||
		    put_user(len, optlen))
			ret = -EFAULT;
	}
	mutex_unlock(&gsk->lock);
	return ret;
}

static int graft_getsockopt(struct socket *sock, int level, int name,
			    char __user *optval, int __user *optlen)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	struct socket *host = graft_host(sock);
	int len, val;

	if (level == SOL_GRAFT) {
		if (get_user(len, optlen))
			return -EFAULT;
		if (len < (int)sizeof(int))
			return -EINVAL;
		switch (name) {
		case GRAFT_NAME_TRANSPARENT:
			val = gsk->name_transparent;
			break;
		case GRAFT_PORT_HINT:
			val = gsk->port_hint;
			break;
		default:
			return -ENOPROTOOPT;
		}
		len = sizeof(int);
		if (put_user(len, optlen) || copy_to_user(optval, &val, len))
			return -EFAULT;
		return 0;
	}

	if (!host)
		return graft_getsockopt_stored(gsk, level, name, optval, optlen);
	if (!host->ops->getsockopt)
		return -EOPNOTSUPP;
	return host->ops->getsockopt(host, level, name, optval, optlen);
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

int __init graft_socket_init(void)
{
	int ret;

	ret = register_pernet_subsys(&graft_sock_net_ops);
	if (ret)
		goto err_pernet;
	ret = proto_register(&graft_proto, 1);
	if (ret)
		goto err_proto;
	ret = sock_register(&graft_family);
	if (ret) {
		pr_err("address family %d is taken (is the ipx module loaded?)\n",
		       PF_GRAFT);
		goto err_family;
	}
	return 0;

err_family:
	proto_unregister(&graft_proto);
err_proto:
	unregister_pernet_subsys(&graft_sock_net_ops);
err_pernet:
	return ret;
}

void graft_socket_exit(void)
{
	sock_unregister(PF_GRAFT);
	proto_unregister(&graft_proto);
	unregister_pernet_subsys(&graft_sock_net_ops);
}
