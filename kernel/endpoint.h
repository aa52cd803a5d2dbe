/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_ENDPOINT_H
#define _GRAFT_ENDPOINT_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/socket.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/un.h>
#include <net/net_namespace.h>

#include "uapi/af_graft.h"

#define GRAFT_EP_PER_NET_MAX 1024

/* The flags each endpoint type accepts. */
#define GRAFT_EP_F_INET_ALL (GRAFT_EP_F_DYNAMIC_PORT | GRAFT_EP_F_DEFAULT | \
			     GRAFT_EP_F_REUSEPORT)
#define GRAFT_EP_F_UNIX_ALL GRAFT_EP_F_ABSTRACT

/* Where an endpoint points: a socket address in a target namespace. */
struct graft_target {
	u8 type;			/* enum graft_ep_type */
	u32 flags;			/* GRAFT_EP_F_* */
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
		struct sockaddr_un sun;
	} addr;
	int addrlen;
	struct net *net;		/* the target namespace */
};

struct graft_ep {
	struct list_head list;
	char name[AF_GRAFT_EPNAME_MAX];
	struct graft_target target;
	bool net_ref;			/* false when target.net is our own netns */
	u32 netns_pid;			/* as given at add time, 0 if none */
};

/* The endpoints of a namespace (struct graft_net, pernet.h). */
struct graft_ep_net {
	struct mutex lock;	/* protects eps and count */
	struct list_head eps;
	unsigned int count;
};

void graft_ep_net_init(struct graft_ep_net *gn);
void graft_ep_net_exit(struct graft_ep_net *gn);

int graft_ep_family(const struct graft_target *t);

/* Takes ownership of @ep (and of its target netns reference) on success. */
int graft_ep_add(struct net *net, struct graft_ep *ep);
int graft_ep_del(struct net *net, const char *name);
void graft_ep_free(struct graft_ep *ep);

/*
 * Copy an endpoint's target into @t, holding a reference on t->net that the
 * caller drops with put_net().  -ENOENT if there is no such endpoint.
 */
int graft_ep_lookup(struct net *net, const char *name, struct graft_target *t);
int graft_ep_lookup_default(struct net *net, int family, char *name,
			    struct graft_target *t);

/*
 * Call @fn for each endpoint of @net starting at index *@idx, under the
 * namespace's endpoint lock, until @fn returns non-zero; *@idx is left at the
 * first endpoint not done.
 */
int graft_ep_walk(struct net *net, unsigned long *idx,
		  int (*fn)(const struct graft_ep *ep, void *arg), void *arg);
int graft_ep_get(struct net *net, const char *name,
		 int (*fn)(const struct graft_ep *ep, void *arg), void *arg);

#endif /* _GRAFT_ENDPOINT_H */
