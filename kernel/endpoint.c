// SPDX-License-Identifier: GPL-2.0
/*
 * Endpoints: per network namespace lists of named targets.
 */
#include <linux/slab.h>
#include <linux/mutex.h>
#include <linux/string.h>

#include "endpoint.h"
#include "listwalk.h"
#include "pernet.h"

static struct graft_ep_net *graft_pernet(struct net *net)
{
	return &graft_net(net)->eps;
}

void graft_ep_net_init(struct graft_ep_net *gn)
{
	mutex_init(&gn->lock);
	INIT_LIST_HEAD(&gn->eps);
	gn->count = 0;
}

/* The namespace goes: free its endpoints. */
void graft_ep_net_exit(struct graft_ep_net *gn)
{
	struct graft_ep *ep, *tmp;
	LIST_HEAD(dead);

	mutex_lock(&gn->lock);
	list_splice_init(&gn->eps, &dead);
	gn->count = 0;
	mutex_unlock(&gn->lock);
	list_for_each_entry_safe(ep, tmp, &dead, list) {
		list_del(&ep->list);
		graft_ep_free(ep);
	}
	mutex_destroy(&gn->lock);
}

int graft_ep_family(const struct graft_target *t)
{
	switch (t->type) {
	case GRAFT_EP_TYPE_IPV4:
		return AF_INET;
	case GRAFT_EP_TYPE_IPV6:
		return AF_INET6;
	case GRAFT_EP_TYPE_UNIX:
		return AF_UNIX;
	}
	return AF_UNSPEC;
}

void graft_ep_free(struct graft_ep *ep)
{
	if (ep->net_ref)
		put_net(ep->target.net);
	kfree(ep);
}

static struct graft_ep *graft_ep_find(struct graft_ep_net *gn, const char *name)
{
	struct graft_ep *ep;

	list_for_each_entry(ep, &gn->eps, list)
		if (!strncmp(ep->name, name, AF_GRAFT_EPNAME_MAX))
			return ep;
	return NULL;
}

int graft_ep_add(struct net *net, struct graft_ep *ep)
{
	struct graft_ep_net *gn = graft_pernet(net);
	int ret = 0;

	mutex_lock(&gn->lock);
	if (graft_ep_find(gn, ep->name))
		ret = -EEXIST;
	else if (gn->count >= GRAFT_EP_PER_NET_MAX)
		ret = -ENOSPC;
	else {
		list_add_tail(&ep->list, &gn->eps);
		gn->count++;
	}
	mutex_unlock(&gn->lock);
	return ret;
}

int graft_ep_del(struct net *net, const char *name)
{
	struct graft_ep_net *gn = graft_pernet(net);
	struct graft_ep *ep;

	mutex_lock(&gn->lock);
	ep = graft_ep_find(gn, name);
	if (ep) {
		list_del(&ep->list);
		gn->count--;
	}
	mutex_unlock(&gn->lock);
	if (!ep)
		return -ENOENT;
	graft_ep_free(ep);
	return 0;
}

static void graft_target_copy(struct graft_target *t, const struct graft_ep *ep)
{
	*t = ep->target;
	get_net(t->net);
}

int graft_ep_lookup(struct net *net, const char *name, struct graft_target *t)
{
	struct graft_ep_net *gn = graft_pernet(net);
	struct graft_ep *ep;

	mutex_lock(&gn->lock);
	ep = graft_ep_find(gn, name);
	if (ep)
		graft_target_copy(t, ep);
	mutex_unlock(&gn->lock);
	return ep ? 0 : -ENOENT;
}

int graft_ep_lookup_default(struct net *net, int family, char *name,
			    struct graft_target *t)
{
	struct graft_ep_net *gn = graft_pernet(net);
	struct graft_ep *ep, *found = NULL;

	mutex_lock(&gn->lock);
	list_for_each_entry(ep, &gn->eps, list) {
		if ((ep->target.flags & GRAFT_EP_F_DEFAULT) &&
		    graft_ep_family(&ep->target) == family) {
			found = ep;
			break;
		}
	}
	if (found) {
		graft_target_copy(t, found);
		strscpy(name, found->name, AF_GRAFT_EPNAME_MAX);
	}
	mutex_unlock(&gn->lock);
	return found ? 0 : -ENOENT;
}

int graft_ep_walk(struct net *net, unsigned long *idx,
		  int (*fn)(const struct graft_ep *ep, void *arg), void *arg)
{
	struct graft_ep_net *gn = graft_pernet(net);
	struct graft_ep *ep;
	int ret;

	mutex_lock(&gn->lock);
	ret = graft_list_walk(ep, &gn->eps, list, idx, fn(ep, arg));
	mutex_unlock(&gn->lock);
	return ret;
}

int graft_ep_get(struct net *net, const char *name,
		 int (*fn)(const struct graft_ep *ep, void *arg), void *arg)
{
	struct graft_ep_net *gn = graft_pernet(net);
	struct graft_ep *ep;
	int ret;

	mutex_lock(&gn->lock);
	ep = graft_ep_find(gn, name);
	ret = ep ? fn(ep, arg) : -ENOENT;
	mutex_unlock(&gn->lock);
	return ret;
}
