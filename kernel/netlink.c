// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink family "af_graft": endpoint add, delete, get and dump, and
 * the dump of bound graft sockets.  See uapi/af_graft.h for the commands and
 * attributes.
 */
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tcp.h>
#include <linux/un.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "compat.h"
#include "endpoint.h"
#include "netlink.h"
#include "socklist.h"

static struct genl_family graft_genl_family;

static const struct nla_policy graft_policy[GRAFT_A_MAX + 1] = {
	[GRAFT_A_EP_NAME]	= { .type = NLA_NUL_STRING,
				    .len = AF_GRAFT_EPNAME_MAX - 1 },
	[GRAFT_A_EP_TYPE]	= NLA_POLICY_RANGE(NLA_U8, GRAFT_EP_TYPE_IPV4,
						   GRAFT_EP_TYPE_MAX),
	[GRAFT_A_EP_ADDR]	= { .type = NLA_BINARY,
				    .len = sizeof(struct in6_addr) },
	[GRAFT_A_EP_PORT]	= { .type = NLA_U16 },
	[GRAFT_A_EP_FLAGS]	= { .type = NLA_U32 },
	[GRAFT_A_EP_PATH]	= { .type = NLA_NUL_STRING,
				    .len = UNIX_PATH_MAX - 1 },
	[GRAFT_A_EP_NETNS_PID]	= { .type = NLA_U32 },
	[GRAFT_A_EP_NETNS_FD]	= { .type = NLA_U32 },
	[GRAFT_A_EP_NETNSID]	= { .type = NLA_S32 },
};

/* NLA_NUL_STRING attributes are NUL-terminated once validated. */
static bool graft_nla_empty(const struct nlattr *a)
{
	return !*(const char *)nla_data(a);
}

/* Extended-ack messages must be string literals, hence macros. */
#define graft_require(info, attr, msg) ({				\
	bool __present = !!(info)->attrs[attr];				\
	if (!__present) {						\
		NL_SET_ERR_MSG((info)->extack, msg);			\
		NL_SET_ERR_ATTR_MISS((info)->extack, NULL, attr);	\
	}								\
	__present;							\
})

/* Refuse @attr if present: it does not belong with this endpoint type. */
#define graft_refuse(info, attr, msg) ({				\
	bool __present = !!(info)->attrs[attr];				\
	if (__present)							\
		NL_SET_ERR_MSG_ATTR((info)->extack, (info)->attrs[attr], msg); \
	__present;							\
})

/*
 * Adding and deleting endpoints needs CAP_NET_ADMIN in the initial user
 * namespace, exactly what GENL_ADMIN_PERM checks (netlink_capable), but done
 * here so that the refusal carries a message.  Not the namespace's own user
 * namespace: an endpoint reaches into another namespace (by default the
 * initial one), which the root of a user namespace must not be able to do.
 */
#define graft_admin(skb, info, msg) ({					\
	bool __ok = netlink_capable(skb, CAP_NET_ADMIN);		\
	if (!__ok)							\
		NL_SET_ERR_MSG((info)->extack, msg);			\
	__ok;								\
})

static int graft_parse_inet(struct genl_info *info, struct graft_ep *ep)
{
	struct graft_target *t = &ep->target;
	struct nlattr *a = info->attrs[GRAFT_A_EP_ADDR];
	bool v6 = t->type == GRAFT_EP_TYPE_IPV6;
	u16 port = 0;

	if (graft_refuse(info, GRAFT_A_EP_PATH,
			 "path is only valid for unix endpoints"))
		return -EINVAL;
	if (t->flags & ~GRAFT_EP_F_INET_ALL) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GRAFT_A_EP_FLAGS],
				    "the abstract flag is only valid for unix endpoints");
		return -EINVAL;
	}
	if (!graft_require(info, GRAFT_A_EP_ADDR,
			   "missing address (GRAFT_A_EP_ADDR)"))
		return -EINVAL;
	if (nla_len(a) != (v6 ? sizeof(struct in6_addr) : sizeof(struct in_addr))) {
		if (v6)
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "ipv6 address must be exactly 16 bytes");
		else
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "ipv4 address must be exactly 4 bytes");
		return -EINVAL;
	}
	if (info->attrs[GRAFT_A_EP_PORT])
		port = nla_get_u16(info->attrs[GRAFT_A_EP_PORT]);
	if (t->flags & GRAFT_EP_F_DYNAMIC_PORT) {
		if (port) {
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[GRAFT_A_EP_PORT],
					    "a dynamic-port endpoint takes no port");
			return -EINVAL;
		}
	} else if (!port) {
		if (!info->attrs[GRAFT_A_EP_PORT])
			graft_require(info, GRAFT_A_EP_PORT,
				      "missing port (or set the dynamic-port flag)");
		else
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[GRAFT_A_EP_PORT],
					    "port must be 1..65535 (or set the dynamic-port flag)");
		return -EINVAL;
	}

	if (v6) {
		t->addr.sin6.sin6_family = AF_INET6;
		t->addr.sin6.sin6_port = htons(port);
		nla_memcpy(&t->addr.sin6.sin6_addr, a, sizeof(struct in6_addr));
		t->addrlen = sizeof(struct sockaddr_in6);
	} else {
		t->addr.sin.sin_family = AF_INET;
		t->addr.sin.sin_port = htons(port);
		nla_memcpy(&t->addr.sin.sin_addr, a, sizeof(struct in_addr));
		t->addrlen = sizeof(struct sockaddr_in);
	}
	return 0;
}

static int graft_parse_unix(struct genl_info *info, struct graft_ep *ep)
{
	struct graft_target *t = &ep->target;
	struct nlattr *a = info->attrs[GRAFT_A_EP_PATH];

	if (graft_refuse(info, GRAFT_A_EP_ADDR,
			 "address is not valid for unix endpoints") ||
	    graft_refuse(info, GRAFT_A_EP_PORT,
			 "port is not valid for unix endpoints"))
		return -EINVAL;
	if (t->flags & ~GRAFT_EP_F_UNIX_ALL) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GRAFT_A_EP_FLAGS],
				    "unix endpoints take no flag but abstract");
		return -EINVAL;
	}
	if (!graft_require(info, GRAFT_A_EP_PATH,
			   "missing path (GRAFT_A_EP_PATH)"))
		return -EINVAL;
	if (graft_nla_empty(a)) {
		NL_SET_ERR_MSG_ATTR(info->extack, a, "path must not be empty");
		return -EINVAL;
	}
	t->addr.sun.sun_family = AF_UNIX;
	strscpy(t->addr.sun.sun_path, nla_data(a), sizeof(t->addr.sun.sun_path));
	t->addrlen = offsetof(struct sockaddr_un, sun_path) +
		     strlen(t->addr.sun.sun_path) + 1;
	return 0;
}

/*
 * The target namespace: another namespace than the endpoint's own also
 * needs CAP_SYS_ADMIN over it, what setns() into it would need.
 */
static int graft_parse_netns(struct sk_buff *skb, struct genl_info *info,
			     struct graft_ep *ep, struct net *net)
{
	struct nlattr *pid = info->attrs[GRAFT_A_EP_NETNS_PID];
	struct nlattr *fd = info->attrs[GRAFT_A_EP_NETNS_FD];
	struct net *target;

	if (pid && fd) {
		NL_SET_ERR_MSG_ATTR(info->extack, fd,
				    "give the target namespace by PID or by fd, not both");
		return -EINVAL;
	}
	if (pid) {
		target = get_net_ns_by_pid(nla_get_u32(pid));
		if (IS_ERR(target)) {
			NL_SET_ERR_MSG_ATTR(info->extack, pid,
					    "no process with this PID");
			return PTR_ERR(target);
		}
		ep->netns_pid = nla_get_u32(pid);
	} else if (fd) {
		target = get_net_ns_by_fd(nla_get_u32(fd));
		if (IS_ERR(target)) {
			NL_SET_ERR_MSG_ATTR(info->extack, fd,
					    "fd is not a network namespace");
			return PTR_ERR(target);
		}
	} else {
		target = get_net(&init_net);
	}

	if (!net_eq(target, net) &&
	    !netlink_ns_capable(skb, target->user_ns, CAP_SYS_ADMIN)) {
		put_net(target);
		NL_SET_ERR_MSG(info->extack,
			       "a target in another namespace needs CAP_SYS_ADMIN over it");
		return -EPERM;
	}
	ep->target.net = target;
	/* An endpoint must not pin the namespace that holds it. */
	if (net_eq(target, net)) {
		put_net(target);
		ep->net_ref = false;
	} else {
		ep->net_ref = true;
	}
	return 0;
}

static int graft_nl_ep_add(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct nlattr *a;
	struct graft_ep *ep;
	int ret;

	if (!graft_admin(skb, info, "adding endpoints needs CAP_NET_ADMIN"))
		return -EPERM;
	if (!graft_require(info, GRAFT_A_EP_NAME,
			   "missing endpoint name (GRAFT_A_EP_NAME)") ||
	    !graft_require(info, GRAFT_A_EP_TYPE,
			   "missing endpoint type (GRAFT_A_EP_TYPE)"))
		return -EINVAL;
	if (graft_refuse(info, GRAFT_A_EP_NETNSID,
			 "GRAFT_A_EP_NETNSID is reported, not accepted"))
		return -EINVAL;

	a = info->attrs[GRAFT_A_EP_NAME];
	if (graft_nla_empty(a)) {
		NL_SET_ERR_MSG_ATTR(info->extack, a,
				    "endpoint name must not be empty");
		return -EINVAL;
	}

	ep = kzalloc(sizeof(*ep), GFP_KERNEL);
	if (!ep)
		return -ENOMEM;
	strscpy(ep->name, nla_data(a), sizeof(ep->name));
	ep->target.type = nla_get_u8(info->attrs[GRAFT_A_EP_TYPE]);

	a = info->attrs[GRAFT_A_EP_FLAGS];
	if (a) {
		ep->target.flags = nla_get_u32(a);
		if (ep->target.flags & ~__GRAFT_EP_F_ALL) {
			NL_SET_ERR_MSG_ATTR(info->extack, a, "unknown flag bits");
			ret = -EINVAL;
			goto err_free;
		}
	}

	if (ep->target.type == GRAFT_EP_TYPE_UNIX)
		ret = graft_parse_unix(info, ep);
	else
		ret = graft_parse_inet(info, ep);
	if (ret)
		goto err_free;

	ret = graft_parse_netns(skb, info, ep, net);
	if (ret)
		goto err_free;

	ret = graft_ep_add(net, ep);
	if (ret == -EEXIST)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GRAFT_A_EP_NAME],
				    "an endpoint with this name exists");
	else if (ret == -ENOSPC)
		NL_SET_ERR_MSG(info->extack,
			       "too many endpoints in this namespace");
	if (ret)
		goto err_put;
	return 0;

err_put:
	graft_ep_free(ep);
	return ret;
err_free:
	kfree(ep);
	return ret;
}

static int graft_nl_ep_del(struct sk_buff *skb, struct genl_info *info)
{
	int ret;

	if (!graft_admin(skb, info, "deleting endpoints needs CAP_NET_ADMIN"))
		return -EPERM;
	if (!graft_require(info, GRAFT_A_EP_NAME,
			   "missing endpoint name (GRAFT_A_EP_NAME)"))
		return -EINVAL;
	ret = graft_ep_del(genl_info_net(info),
			   nla_data(info->attrs[GRAFT_A_EP_NAME]));
	if (ret == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GRAFT_A_EP_NAME],
				    "no endpoint with this name");
	return ret;
}

struct graft_fill {
	struct sk_buff *skb;
	struct net *net;	/* the namespace the endpoints belong to */
	struct netlink_callback *cb;	/* socket dumps only */
	unsigned int gen;		/* socket list generation */
	u32 portid, seq;
	int flags;
};

/* A dump's fill state: multi-part messages to the dumping socket. */
static void graft_fill_dump(struct graft_fill *f, struct sk_buff *skb,
			    struct netlink_callback *cb)
{
	*f = (struct graft_fill){
		.skb = skb,
		.net = sock_net(skb->sk),
		.portid = NETLINK_CB(cb->skb).portid,
		.seq = cb->nlh->nlmsg_seq,
		.flags = NLM_F_MULTI,
	};
}

/*
 * One message of @cmd in f->skb, its attributes put by @put(f, @obj); taken
 * back (-EMSGSIZE) when they do not fit.  In a socket dump (f->cb set), a
 * part that follows a change of the list is flagged.
 */
static int graft_fill_msg(struct graft_fill *f, u8 cmd,
			  int (*put)(struct graft_fill *f, const void *obj),
			  const void *obj)
{
	void *hdr = genlmsg_put(f->skb, f->portid, f->seq, &graft_genl_family,
				f->flags, cmd);

	if (!hdr)
		return -EMSGSIZE;
	if (f->cb) {
		f->cb->seq = f->gen;
		genl_dump_check_consistent(f->cb, hdr);
	}
	if (put(f, obj)) {
		genlmsg_cancel(f->skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(f->skb, hdr);
	return 0;
}

/* End a dump part at @idx: a full part with more to come is no error. */
static int graft_dump_done(struct sk_buff *skb, struct netlink_callback *cb,
			   unsigned long idx, int ret)
{
	cb->args[0] = idx;
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;	/* more to come */
	return ret ? ret : skb->len;
}

/* An endpoint's attributes; -EMSGSIZE when they do not fit. */
static int graft_put_ep(struct graft_fill *f, const void *obj)
{
	const struct graft_ep *ep = obj;
	const struct graft_target *t = &ep->target;

	if (nla_put_string(f->skb, GRAFT_A_EP_NAME, ep->name) ||
	    nla_put_u8(f->skb, GRAFT_A_EP_TYPE, t->type) ||
	    nla_put_u32(f->skb, GRAFT_A_EP_FLAGS, t->flags))
		return -EMSGSIZE;

	switch (t->type) {
	case GRAFT_EP_TYPE_IPV4:
		if (nla_put_in_addr(f->skb, GRAFT_A_EP_ADDR,
				    t->addr.sin.sin_addr.s_addr) ||
		    nla_put_u16(f->skb, GRAFT_A_EP_PORT,
				ntohs(t->addr.sin.sin_port)))
			return -EMSGSIZE;
		break;
	case GRAFT_EP_TYPE_IPV6:
		if (nla_put_in6_addr(f->skb, GRAFT_A_EP_ADDR,
				     &t->addr.sin6.sin6_addr) ||
		    nla_put_u16(f->skb, GRAFT_A_EP_PORT,
				ntohs(t->addr.sin6.sin6_port)))
			return -EMSGSIZE;
		break;
	case GRAFT_EP_TYPE_UNIX:
		if (nla_put_string(f->skb, GRAFT_A_EP_PATH,
				   t->addr.sun.sun_path))
			return -EMSGSIZE;
		break;
	}

	if (ep->netns_pid &&
	    nla_put_u32(f->skb, GRAFT_A_EP_NETNS_PID, ep->netns_pid))
		return -EMSGSIZE;
	/* The initial namespace is the default target: not reported. */
	if (!net_eq(t->net, &init_net) &&
	    nla_put_s32(f->skb, GRAFT_A_EP_NETNSID,
			peernet2id_alloc(f->net, t->net, GFP_KERNEL)))
		return -EMSGSIZE;
	return 0;
}

static int graft_fill_ep(const struct graft_ep *ep, void *arg)
{
	return graft_fill_msg(arg, GRAFT_CMD_EP_GET, graft_put_ep, ep);
}

static int graft_nl_ep_get(struct sk_buff *skb, struct genl_info *info)
{
	struct graft_fill f = {
		.net = genl_info_net(info),
		.portid = info->snd_portid,
		.seq = info->snd_seq,
	};
	int ret;

	if (!graft_require(info, GRAFT_A_EP_NAME,
			   "missing endpoint name (GRAFT_A_EP_NAME); dump to list all"))
		return -EINVAL;

	f.skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!f.skb)
		return -ENOMEM;
	ret = graft_ep_get(f.net, nla_data(info->attrs[GRAFT_A_EP_NAME]),
			   graft_fill_ep, &f);
	if (ret) {
		nlmsg_free(f.skb);
		if (ret == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[GRAFT_A_EP_NAME],
					    "no endpoint with this name");
		return ret;
	}
	return genlmsg_reply(f.skb, info);
}

static int graft_nl_ep_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	unsigned long idx = cb->args[0];
	struct graft_fill f;
	int ret;

	graft_fill_dump(&f, skb, cb);
	ret = graft_ep_walk(f.net, &idx, graft_fill_ep, &f);
	return graft_dump_done(skb, cb, idx, ret);
}

static bool graft_sk_is_tcp(const struct sock *sk)
{
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP;
}

/* A bound socket's attributes; -EMSGSIZE when they do not fit. */
static int graft_put_sock(struct graft_fill *f, const void *obj)
{
	const struct graft_sock_desc *d = obj;
	struct sock *hsk = d->host->sk;
	struct sockaddr_storage addr;
	int len;

	if (nla_put_u64_64bit(f->skb, GRAFT_A_SOCK_INODE, d->ino,
			      GRAFT_A_UNSPEC) ||
	    nla_put_string(f->skb, GRAFT_A_EP_NAME, d->epname) ||
	    nla_put_u16(f->skb, GRAFT_A_SOCK_FAMILY, hsk->sk_family) ||
	    nla_put_u16(f->skb, GRAFT_A_SOCK_TYPE, hsk->sk_type) ||
	    nla_put_u16(f->skb, GRAFT_A_SOCK_PROTOCOL, hsk->sk_protocol) ||
	    nla_put_u8(f->skb, GRAFT_A_SOCK_STATE, READ_ONCE(hsk->sk_state)) ||
	    nla_put_u32(f->skb, GRAFT_A_SOCK_NETNS_INO, d->host_net->ns.inum) ||
	    nla_put_u64_64bit(f->skb, GRAFT_A_SOCK_HOST_INODE, sock_i_ino(hsk),
			      GRAFT_A_UNSPEC))
		return -EMSGSIZE;

	/* Errors (ENOTCONN above all) just leave the address out. */
	memset(&addr, 0, sizeof(addr));
	len = kernel_getsockname(d->host, (struct sockaddr *)&addr);
	if (len > 0 && nla_put(f->skb, GRAFT_A_SOCK_LOCAL, len, &addr))
		return -EMSGSIZE;
	memset(&addr, 0, sizeof(addr));
	len = kernel_getpeername(d->host, (struct sockaddr *)&addr);
	if (len > 0 && nla_put(f->skb, GRAFT_A_SOCK_PEER, len, &addr))
		return -EMSGSIZE;

	if (graft_sk_is_tcp(hsk) &&
	    (nla_put_u64_64bit(f->skb, GRAFT_A_SOCK_BYTES_SENT,
			       READ_ONCE(tcp_sk(hsk)->bytes_sent),
			       GRAFT_A_UNSPEC) ||
	     nla_put_u64_64bit(f->skb, GRAFT_A_SOCK_BYTES_RECEIVED,
			       READ_ONCE(tcp_sk(hsk)->bytes_received),
			       GRAFT_A_UNSPEC)))
		return -EMSGSIZE;
	return 0;
}

static int graft_fill_sock(const struct graft_sock_desc *d, void *arg)
{
	return graft_fill_msg(arg, GRAFT_CMD_SOCK_GET, graft_put_sock, d);
}

static int graft_nl_sock_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	unsigned long idx = cb->args[0];
	struct graft_fill f;
	int ret;

	graft_fill_dump(&f, skb, cb);
	f.cb = cb;	/* list generations: flag parts after a change */
	ret = graft_sock_walk(f.net, &idx, &f.gen, graft_fill_sock, &f);
	return graft_dump_done(skb, cb, idx, ret);
}

/* CAP_NET_ADMIN for EP_ADD and EP_DEL is checked by the handlers (graft_admin). */
static const struct genl_ops graft_genl_ops[] = {
	{ .cmd = GRAFT_CMD_EP_ADD, .doit = graft_nl_ep_add },
	{ .cmd = GRAFT_CMD_EP_DEL, .doit = graft_nl_ep_del },
	{ .cmd = GRAFT_CMD_EP_GET, .doit = graft_nl_ep_get, .dumpit = graft_nl_ep_dump },
	{ .cmd = GRAFT_CMD_SOCK_GET, .dumpit = graft_nl_sock_dump },
};

static struct genl_family graft_genl_family __ro_after_init = {
	.name = AF_GRAFT_GENL_NAME,
	.version = AF_GRAFT_GENL_VERSION,
	.maxattr = GRAFT_A_MAX,
	.policy = graft_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = graft_genl_ops,
	.n_ops = ARRAY_SIZE(graft_genl_ops),
	GRAFT_GENL_RESV_START_OP(GRAFT_CMD_EP_ADD)
};

int graft_genl_init(void)
{
	return genl_register_family(&graft_genl_family);
}

void graft_genl_exit(void)
{
	genl_unregister_family(&graft_genl_family);
}
