/* SPDX-License-Identifier: MIT */
/*
 * fdtable.c — tracked sockets indexed by file descriptor.
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fdtable.h"

#define GRAFT_FDT_MIN_SLOTS 64
/*
 * Entries a socket's close() freed, kept for the next socket(): an entry is
 * 1.6 KiB (its options), past malloc's per-thread cache, so a program that
 * opens and closes sockets in turn would otherwise go through the allocator's
 * locked path twice per socket and clear all of it.  A kept entry needs only
 * its fields before the options cleared (nopts says how many are valid).
 */
#define GRAFT_FDT_SPARE_MAX 8

static pthread_mutex_t fdt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct graft_sock **fdt_slots;
static size_t fdt_cap;
static atomic_size_t fdt_count;
static atomic_uint_fast64_t sock_next_id = 1;
static struct graft_sock *fdt_spare[GRAFT_FDT_SPARE_MAX];
static unsigned int fdt_nspare;

static void sock_init(struct graft_sock *s, int family, int type, int protocol)
{
	s->id = atomic_fetch_add(&sock_next_id, 1);
	s->family = family;
	s->type = type;
	s->protocol = protocol;
	s->state = GRAFT_CANDIDATE;
	s->host_family = family;
}

struct graft_sock *graft_sock_new(int family, int type, int protocol)
{
	struct graft_sock *s = calloc(1, sizeof(*s));

	if (s)
		sock_init(s, family, type, protocol);
	return s;
}

/* Keep s for graft_fdt_new(), or free it when enough are kept. */
static void sock_retire(struct graft_sock *s)
{
	if (s && fdt_nspare < GRAFT_FDT_SPARE_MAX)
		fdt_spare[fdt_nspare++] = s;
	else
		free(s);
}

struct graft_sock *graft_sock_clone(const struct graft_sock *s)
{
	struct graft_sock *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	memcpy(c, s, sizeof(*c));
	c->id = atomic_fetch_add(&sock_next_id, 1);
	return c;
}

void graft_fdt_lock(void)
{
	pthread_mutex_lock(&fdt_lock);
}

void graft_fdt_unlock(void)
{
	pthread_mutex_unlock(&fdt_lock);
}

struct graft_sock *graft_fdt_get(int fd)
{
	if (fd < 0 || (size_t)fd >= fdt_cap)
		return NULL;
	return fdt_slots[fd];
}

static int fdt_grow(size_t need)
{
	size_t cap = fdt_cap ? fdt_cap : GRAFT_FDT_MIN_SLOTS;
	struct graft_sock **slots;

	while (cap < need) {
		if (cap > SIZE_MAX / 2 / sizeof(*slots))
			return -1;
		cap *= 2;
	}
	slots = realloc(fdt_slots, cap * sizeof(*slots));
	if (!slots)
		return -1;
	memset(slots + fdt_cap, 0, (cap - fdt_cap) * sizeof(*slots));
	fdt_slots = slots;
	fdt_cap = cap;
	return 0;
}

int graft_fdt_set(int fd, struct graft_sock *s)
{
	struct graft_sock *old;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if ((size_t)fd >= fdt_cap && fdt_grow((size_t)fd + 1) < 0) {
		errno = ENOMEM;
		return -1;
	}
	old = fdt_slots[fd];
	if (old && !s)
		atomic_fetch_sub(&fdt_count, 1);
	else if (!old && s)
		atomic_fetch_add(&fdt_count, 1);
	sock_retire(old);
	fdt_slots[fd] = s;
	return 0;
}

struct graft_sock *graft_fdt_new(int fd, int family, int type, int protocol)
{
	struct graft_sock *s;

	if (fdt_nspare) {
		s = fdt_spare[--fdt_nspare];
		memset(s, 0, offsetof(struct graft_sock, opts));
		sock_init(s, family, type, protocol);
	} else {
		s = graft_sock_new(family, type, protocol);
		if (!s) {
			errno = ENOMEM;
			return NULL;
		}
	}
	if (graft_fdt_set(fd, s) < 0) {
		sock_retire(s);
		return NULL;
	}
	return s;
}

void graft_fdt_drop(int fd)
{
	if (fd < 0 || (size_t)fd >= fdt_cap || !fdt_slots[fd])
		return;
	sock_retire(fdt_slots[fd]);
	fdt_slots[fd] = NULL;
	atomic_fetch_sub(&fdt_count, 1);
}

void graft_fdt_drop_range(unsigned int first, unsigned int last)
{
	size_t fd;

	for (fd = first; fd <= last && fd < fdt_cap; fd++)
		graft_fdt_drop((int)fd);
}

void graft_fdt_dup(int oldfd, int newfd)
{
	struct graft_sock *s = graft_fdt_get(oldfd);
	struct graft_sock *c;

	if (oldfd == newfd)
		return;
	if (!s) {
		graft_fdt_drop(newfd);
		return;
	}
	c = graft_sock_clone(s);
	if (!c || graft_fdt_set(newfd, c) < 0) {
		/* Out of memory: the copy is simply not tracked. */
		free(c);
		graft_fdt_drop(newfd);
	}
}

size_t graft_fdt_count(void)
{
	return atomic_load_explicit(&fdt_count, memory_order_relaxed);
}

size_t graft_fdt_capacity(void)
{
	return fdt_cap;
}

void graft_fdt_atfork_prepare(void)
{
	pthread_mutex_lock(&fdt_lock);
}

void graft_fdt_atfork_parent(void)
{
	pthread_mutex_unlock(&fdt_lock);
}

void graft_fdt_atfork_child(void)
{
	pthread_mutex_unlock(&fdt_lock);
}
