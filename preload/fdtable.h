/* SPDX-License-Identifier: MIT */
/*
 * The table of tracked sockets, indexed by file descriptor. It grows with
 * realloc and has no cap. One mutex guards it; callers take the lock around
 * lookups and changes. graft_fdt_count() is a lock-free hint so calls on
 * untracked descriptors (files, pipes) skip the lock while nothing is
 * tracked at all.
 */
#ifndef GRAFT_FDTABLE_H
#define GRAFT_FDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "graft_proto.h"

enum graft_state {
	GRAFT_CANDIDATE, /* created, nothing decided yet */
	GRAFT_GRAFTING,  /* a thread is talking to the backend for it */
	GRAFT_GRAFTED,   /* now a host-namespace socket */
	GRAFT_PASSED,    /* left alone: an unmatched bind/connect/send ran */
	GRAFT_SPECULATIVE, /* socket() gave a stocked host socket (spec.c):
			    * grafted if it connects through `ep`, else
			    * swapped back for a namespace socket first */
};

struct graft_sock {
	uint64_t id;	/* unique per entry, so a graft commits to its own */
	int family;	/* the application's view: AF_INET or AF_INET6 */
	int type;	/* SOCK_STREAM or SOCK_DGRAM, no flag bits */
	int protocol;
	enum graft_state state;
	int host_family; /* family of the grafted socket, once grafted */
	bool foreign;	 /* host_family differs from family: fake addresses */
	bool accepted;	 /* accepted from a grafted listener */
	bool bound;	 /* grafted by bind(): local is the program's address */
	bool bound_any;	 /* bound to a wildcard with port 0 in the namespace,
			  * still a candidate for egress */
	char ep[GRAFT_EPNAME_MAX];
	uint64_t born;	 /* speculative: when the broker made the socket */
	socklen_t local_len; /* the address the program bound (bound) */
	struct sockaddr_storage local;
	uint16_t nopts;
	struct graft_sockopt opts[GRAFT_SOCKOPT_MAX];
};

/* A fresh candidate entry, or NULL when out of memory. */
struct graft_sock *graft_sock_new(int family, int type, int protocol);
/* A copy of s with a new id, or NULL. */
struct graft_sock *graft_sock_clone(const struct graft_sock *s);

void graft_fdt_lock(void);
void graft_fdt_unlock(void);

/* All of these need the lock. */
struct graft_sock *graft_fdt_get(int fd);
/*
 * A fresh candidate entry stored at fd (what was there is freed), NULL with
 * errno ENOMEM: like graft_sock_new() and graft_fdt_set(), but it reuses an
 * entry a drop freed.
 */
struct graft_sock *graft_fdt_new(int fd, int family, int type, int protocol);
/* Store s at fd (freeing what was there); -1 with errno ENOMEM on failure. */
int graft_fdt_set(int fd, struct graft_sock *s);
/* Forget fd. */
void graft_fdt_drop(int fd);
/* Forget every fd in [first, last]. */
void graft_fdt_drop_range(unsigned int first, unsigned int last);
/* Make newfd track a copy of oldfd's entry, or nothing if oldfd has none. */
void graft_fdt_dup(int oldfd, int newfd);

/* Number of tracked fds; a hint readable without the lock. */
size_t graft_fdt_count(void);
/* Current capacity (slots); for tests. */
size_t graft_fdt_capacity(void);

/* fork() handlers: the lock is never held in the child. */
void graft_fdt_atfork_prepare(void);
void graft_fdt_atfork_parent(void);
void graft_fdt_atfork_child(void);

#endif /* GRAFT_FDTABLE_H */
