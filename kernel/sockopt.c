// SPDX-License-Identifier: GPL-2.0
/*
 * Socket options of graft sockets.
 *
 * Before bind(): options of protocol levels (and SOL_SOCKET ones that do
 * reach us, on kernels that pass them) are stored, at most GRAFT_OPTS_MAX of
 * at most GRAFT_OPTLEN_MAX bytes, and replayed in order on the new host
 * socket.  After bind(): forwarded.  SOL_SOCKET state set through the socket
 * layer lands on the graft socket's own struct sock and is pushed to the
 * host socket when it changed (struct graft_sol).  SOL_GRAFT options are the
 * graft socket's own.
 */
#include <linux/in6.h>
#include <linux/slab.h>
#include <linux/sockptr.h>
#include <net/sock.h>

#include "socket.h"
#include "sockopt.h"

#define GRAFT_OPTS_MAX 32
#define GRAFT_OPTLEN_MAX 128

/* A socket option set before bind(), replayed on the host socket. */
struct graft_opt {
	struct list_head list;
	int level, name;
	unsigned int len;
	u8 val[];
};

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

/*
 * SO_REUSEPORT on a port given by number could join a host socket's group:
 * only where the endpoint allows.  A port the kernel picks joins no group on
 * purpose (DNS clients set the option on every UDP socket): allowed, as the
 * broker does.
 */
static bool graft_reuseport_ok(const struct graft_sock *gsk)
{
	return (gsk->ep_flags & GRAFT_EP_F_REUSEPORT) || gsk->kernel_port;
}

/* Push the SOL_SOCKET changes made since the last push; gsk->lock held. */
static int __graft_sol_push(struct graft_sock *gsk, struct socket *host)
{
	struct graft_sol now, *was = &gsk->sol;
	int ret = 0;

	graft_sol_capture(&gsk->sk, &now);
	if (now.reuseport && !graft_reuseport_ok(gsk))
		return -EPERM;
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

int graft_sol_push(struct socket *sock, struct socket *host)
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
 * At close: only SO_LINGER still matters to the host socket, which nobody
 * else can reach any more; set it as sk_setsockopt() would, without the
 * round through the socket lock.  Any other change goes the usual way.
 */
void graft_sol_push_close(struct socket *sock, struct socket *host)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	struct sock *hsk = host->sk;
	struct graft_sol now, was = gsk->sol;

	graft_sol_capture(sock->sk, &now);
	if (likely(!memcmp(&now, &was, sizeof(now))))
		return;
	was.linger = now.linger;
	was.lingertime = now.lingertime;
	if (memcmp(&now, &was, sizeof(now))) {
		graft_sol_push(sock, host);
		return;
	}
	gsk->sol = now;
	if (now.linger) {
		WRITE_ONCE(hsk->sk_lingertime, READ_ONCE(sock->sk->sk_lingertime));
		sock_set_flag(hsk, SOCK_LINGER);
	} else {
		sock_reset_flag(hsk, SOCK_LINGER);
	}
}

struct socket *graft_host_synced(struct socket *sock, int unbound)
{
	struct socket *host = graft_host(sock);
	int ret;

	if (!host)
		return ERR_PTR(unbound);
	ret = graft_sol_push(sock, host);
	return ret ? ERR_PTR(ret) : host;
}

void graft_opts_init(struct graft_sock *gsk)
{
	INIT_LIST_HEAD(&gsk->opts);
	gsk->nopts = 0;
	graft_sol_capture(&gsk->sk, &gsk->sol);
}

void graft_opts_free(struct graft_sock *gsk)
{
	struct graft_opt *o, *tmp;

	list_for_each_entry_safe(o, tmp, &gsk->opts, list) {
		list_del(&o->list);
		kfree(o);
	}
	gsk->nopts = 0;
}

static int graft_host_setsockopt(struct graft_sock *gsk, struct socket *host,
				 int level, int name, sockptr_t val,
				 unsigned int len)
{
	if (level == SOL_SOCKET && name == SO_REUSEPORT &&
	    !graft_reuseport_ok(gsk))
		return -EPERM;
	if (level == SOL_SOCKET)
		return sock_setsockopt(host, level, name, val, len);
	if (!host->ops->setsockopt)
		return -EOPNOTSUPP;
	return host->ops->setsockopt(host, level, name, val, len);
}

bool graft_opts_v6only(struct graft_sock *gsk)
{
	struct graft_opt *o;
	int val = 0;

	list_for_each_entry(o, &gsk->opts, list)
		if (o->level == IPPROTO_IPV6 && o->name == IPV6_V6ONLY &&
		    o->len >= sizeof(int))
			memcpy(&val, o->val, sizeof(val));
	return val;
}

int graft_opts_apply(struct graft_sock *gsk, struct socket *host)
{
	struct graft_opt *o;
	int ret;

	list_for_each_entry(o, &gsk->opts, list) {
		ret = graft_host_setsockopt(gsk, host, o->level, o->name,
					    KERNEL_SOCKPTR(o->val), o->len);
		/* An option of another family's level: skip it. */
		if (ret == -ENOPROTOOPT)
			continue;
		if (ret)
			return ret;
	}
	graft_sol_timeouts(&gsk->sk, host->sk);
	return __graft_sol_push(gsk, host);
}

/*
 * SO_REUSEPORT is the graft socket's own (the socket layer refuses it on a
 * socket that is not inet): refused once bound where not allowed, checked
 * at bind otherwise.
 */
static int graft_set_reuseport(struct socket *sock, int val)
{
	if (val && graft_host(sock) && !graft_reuseport_ok(graft_sk(sock->sk)))
		return -EPERM;
	lock_sock(sock->sk);
	sock->sk->sk_reuseport = !!val;
	release_sock(sock->sk);
	return 0;
}

static int graft_setsockopt_graft(struct socket *sock, int name,
				  sockptr_t optval, unsigned int optlen)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
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
	case GRAFT_REUSEPORT:
		return graft_set_reuseport(sock, val);
	}
	return -ENOPROTOOPT;
}

/* Unbound: store the option, to replay it at bind(). */
static int graft_setsockopt_store(struct graft_sock *gsk, int level, int name,
				  sockptr_t optval, unsigned int optlen)
{
	struct socket *host;
	struct graft_opt *o;
	int ret;

	if (optlen > GRAFT_OPTLEN_MAX)
		return -ENOBUFS;
	o = kmalloc(struct_size(o, val, optlen), GFP_KERNEL_ACCOUNT);
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
		ret = graft_host_setsockopt(gsk, host, level, name,
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

/*
 * SOL_SOCKET, on kernels that pass it to the family (graft_take_sol_socket):
 * applied to the graft socket, as the socket layer would, and pushed from
 * there; SO_REUSEPORT as GRAFT_REUSEPORT.
 */
static int graft_setsockopt_sol(struct socket *sock, int name,
				sockptr_t optval, unsigned int optlen)
{
	int val;

	if (name != SO_REUSEPORT)
		return sock_setsockopt(sock, SOL_SOCKET, name, optval, optlen);
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;
	return graft_set_reuseport(sock, val);
}

int graft_setsockopt(struct socket *sock, int level, int name,
		     sockptr_t optval, unsigned int optlen)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	struct socket *host;

	if (level == SOL_GRAFT)
		return graft_setsockopt_graft(sock, name, optval, optlen);
	if (level == SOL_SOCKET)
		return graft_setsockopt_sol(sock, name, optval, optlen);
	host = graft_host(sock);
	if (host)
		return graft_host_setsockopt(gsk, host, level, name, optval,
					     optlen);
	return graft_setsockopt_store(gsk, level, name, optval, optlen);
}

static int graft_getsockopt_graft(struct sock *sk, int name,
				  char __user *optval, int __user *optlen)
{
	struct graft_sock *gsk = graft_sk(sk);
	int len, val;

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
	case GRAFT_REUSEPORT:
		val = sk->sk_reuseport;
		break;
	default:
		return -ENOPROTOOPT;
	}
	len = sizeof(int);
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
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

int graft_getsockopt(struct socket *sock, int level, int name,
		     char __user *optval, int __user *optlen)
{
	struct graft_sock *gsk = graft_sk(sock->sk);
	struct socket *host = graft_host(sock);

	if (level == SOL_GRAFT)
		return graft_getsockopt_graft(sock->sk, name, optval, optlen);
	if (!host)
		return graft_getsockopt_stored(gsk, level, name, optval, optlen);
	if (!host->ops->getsockopt)
		return -EOPNOTSUPP;
	return host->ops->getsockopt(host, level, name, optval, optlen);
}
