/* SPDX-License-Identifier: MIT */
/*
 * tlist.c — per-thread state on a process-wide list (see tlist.h).
 */
#include <stdlib.h>

#include "libgraft.h"
#include "tlist.h"

static void tnode_unlink(struct graft_tlist *l, struct graft_tnode *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

/* The thread-exit destructor of every list's key. */
static void tnode_destroy(void *p)
{
	struct graft_tnode *n = p;
	struct graft_tlist *l = n->list;

	pthread_mutex_lock(&l->lock);
	tnode_unlink(l, n);
	pthread_mutex_unlock(&l->lock);
	if (n->pid == graft_self_pid())
		(l->exit ? l->exit : l->drop)(n);
	free(n);
}

static bool tlist_ready(struct graft_tlist *l)
{
	int st = atomic_load(&l->state);

	if (st)
		return st > 0;
	pthread_mutex_lock(&l->lock);
	if (!atomic_load(&l->state))
		atomic_store(&l->state,
			     pthread_key_create(&l->key, tnode_destroy) ? -1 : 1);
	pthread_mutex_unlock(&l->lock);
	return atomic_load(&l->state) > 0;
}

struct graft_tnode *graft_tlist_peek(struct graft_tlist *l)
{
	return atomic_load(&l->state) > 0 ? pthread_getspecific(l->key) : NULL;
}

struct graft_tnode *graft_tlist_get(struct graft_tlist *l)
{
	struct graft_tnode *n;

	if (!tlist_ready(l))
		return NULL;
	n = pthread_getspecific(l->key);
	if (n)
		return n;
	n = calloc(1, l->size);
	if (!n)
		return NULL;
	n->list = l;
	n->pid = graft_self_pid();
	if (pthread_setspecific(l->key, n) != 0) {
		free(n);
		return NULL;
	}
	pthread_mutex_lock(&l->lock);
	n->next = l->head;
	if (l->head)
		l->head->prev = n;
	l->head = n;
	pthread_mutex_unlock(&l->lock);
	return n;
}

void graft_tlist_atfork_prepare(struct graft_tlist *l)
{
	pthread_mutex_lock(&l->lock);
}

void graft_tlist_atfork_parent(struct graft_tlist *l)
{
	pthread_mutex_unlock(&l->lock);
}

void graft_tlist_atfork_child(struct graft_tlist *l)
{
	struct graft_tnode *self = graft_tlist_peek(l), *n, *next;

	for (n = l->head; n; n = next) {
		next = n->next;
		l->drop(n);
		if (n != self)
			free(n);
	}
	l->head = self;
	if (self) {
		self->prev = self->next = NULL;
		self->pid = graft_self_pid();
	}
	pthread_mutex_unlock(&l->lock);
}
