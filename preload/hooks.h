/* SPDX-License-Identifier: MIT */
/*
 * The hooked calls' implementations (one per row of hook_table.h) and what
 * they share, grouped by the socket's life:
 *
 *   hook_socket.c   socket(), setsockopt(), getsockopt(): create, options
 *   hook_bind.c     bind(): ingress grafts; listen()
 *   hook_egress.c   connect(), sendto(), sendmsg(), sendmmsg(): egress grafts
 *   hook_foreign.c  accept(), recvfrom(), recvmsg(), getsockname(),
 *                   getpeername(): the addresses a grafted socket shows
 *   hook_fd.c       close(), close_range(), dup*(), fcntl(): descriptors
 *   hook_signal.c   sigaction(), signal() and its variants: handlers
 *   hooks.c         the exported wrappers and the helpers below
 *
 * Life of a tracked socket (fdtable.h): socket() of AF_INET/AF_INET6 with
 * SOCK_STREAM/SOCK_DGRAM creates a candidate; options set on it are
 * recorded; the first bind() matching an ingress mapping, or connect() /
 * sendto() / sendmsg() to a destination matching an egress mapping, grafts
 * it; any other first bind/connect/send leaves it alone for good.
 * A socket() served from the stock (spec.c) starts as GRAFT_SPECULATIVE
 * instead: grafted by a connect through its endpoint, turned into a
 * candidate (a namespace socket put in its place) by anything else.
 */
#ifndef GRAFT_HOOKS_H
#define GRAFT_HOOKS_H

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fdtable.h"
#include "libgraft.h"

enum graft_name_kind { GRAFT_NAME_SOCK, GRAFT_NAME_PEER };

/* Nothing tracked at all: every call can go straight through. */
static inline bool graft_nothing_tracked(void)
{
	return graft_cfg.passthrough || graft_fdt_count() == 0;
}

/* A new descriptor number must not inherit a stale entry. */
void graft_forget_fd(int fd);

/* Record the outcome of a graft on the entry it started from (by id). */
void graft_commit(int fd, uint64_t id, int err, int host_family,
		  const char *ep, const struct sockaddr *local,
		  socklen_t local_len);

int graft_socket_impl(int domain, int type, int protocol);
int graft_setsockopt_impl(int fd, int level, int name, const void *val,
			  socklen_t len);
int graft_getsockopt_impl(int fd, int level, int name, void *val,
			  socklen_t *len);
int graft_bind_impl(int fd, const struct sockaddr *addr, socklen_t len);
int graft_listen_impl(int fd, int backlog);
int graft_connect_impl(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t graft_sendto_impl(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t len);
ssize_t graft_sendmsg_impl(int fd, const struct msghdr *msg, int flags);
int graft_sendmmsg_impl(int fd, struct mmsghdr *vec, unsigned int vlen,
			int flags);
ssize_t graft_recvfrom_impl(int fd, void *buf, size_t n, int flags,
			    struct sockaddr *addr, socklen_t *len);
ssize_t graft_recvmsg_impl(int fd, struct msghdr *msg, int flags);
int graft_accept_impl(int fd, struct sockaddr *addr, socklen_t *len,
		      int flags, bool four);
int graft_name_impl(int fd, struct sockaddr *addr, socklen_t *len,
		    enum graft_name_kind kind);
int graft_close_impl(int fd);
int graft_close_range_impl(unsigned int first, unsigned int last, int flags);
int graft_dup_impl(int fd);
int graft_dup2_impl(int fd, int fd2);
int graft_dup3_impl(int fd, int fd2, int flags);
int graft_fcntl_impl(bool is64, int fd, int cmd, void *arg);
int graft_sigaction_impl(int sig, const struct sigaction *act,
			 struct sigaction *old);
__sighandler_t graft_signal_impl(enum graft_real_id id, int sig,
				 __sighandler_t h);

#endif /* GRAFT_HOOKS_H */
