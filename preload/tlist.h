/* SPDX-License-Identifier: MIT */
/*
 * tlist.h — per-thread state that a forked child can reach.
 *
 * libgraft keeps some state per thread (the broker connection, the client
 * socket stock), each holding descriptors. A forked child has only the
 * forking thread, but copies of every thread's descriptors: so each thread's
 * entry is also on one process-wide list, and the fork handlers release all
 * of them in the child. An entry starts with a struct graft_tnode; the list
 * allocates it (zeroed, `size` bytes) on a thread's first use and frees it
 * when the thread exits, calling `exit` (or `drop` when there is none) first
 * when the entry's process is still the one that made it.
 */
#ifndef GRAFT_TLIST_H
#define GRAFT_TLIST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

struct graft_tlist;

struct graft_tnode {
	struct graft_tnode *prev, *next;
	struct graft_tlist *list;
	pid_t pid; /* the process the entry's descriptors belong to */
};

struct graft_tlist {
	size_t size;				  /* of an entry, graft_tnode first */
	void (*drop)(struct graft_tnode *);	  /* release what an entry holds */
	void (*exit)(struct graft_tnode *);	  /* at thread exit, if not drop */
	pthread_mutex_t lock;
	atomic_int state; /* 0 not set up, 1 ready, -1 no thread keys left */
	pthread_key_t key;
	struct graft_tnode *head;
};

#define GRAFT_TLIST_INIT(type, drop_fn)                                        \
	{ .size = sizeof(type), .drop = (drop_fn),                             \
	  .lock = PTHREAD_MUTEX_INITIALIZER }

/* This thread's entry, made on first use; NULL when out of memory or keys. */
struct graft_tnode *graft_tlist_get(struct graft_tlist *l);
/* This thread's entry if it has one. */
struct graft_tnode *graft_tlist_peek(struct graft_tlist *l);

/* Fork handlers: hold the list across fork(); in the child, drop every
 * entry, keep only the forking thread's (now this process's), free the rest. */
void graft_tlist_atfork_prepare(struct graft_tlist *l);
void graft_tlist_atfork_parent(struct graft_tlist *l);
void graft_tlist_atfork_child(struct graft_tlist *l);

#endif /* GRAFT_TLIST_H */
