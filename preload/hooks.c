/* SPDX-License-Identifier: MIT */
/*
 * hooks.c — the exported wrappers (generated from hook_table.h) and the
 * helpers the hook files share.
 */
#include <stdarg.h>
#include <string.h>

#include "hooks.h"
#include "spec.h"

/* A new descriptor number must not inherit a stale entry. */
void graft_forget_fd(int fd)
{
	struct graft_sock *s;
	bool unused;

	if (fd < 0 || graft_fdt_count() == 0)
		return;
	graft_fdt_lock();
	s = graft_fdt_get(fd);
	unused = s && s->state == GRAFT_SPECULATIVE;
	graft_fdt_drop(fd);
	graft_fdt_unlock();
	if (unused)
		graft_spec_outcome(false);
}

/* Record the outcome of a graft on the entry it started from. */
void graft_commit(int fd, uint64_t id, int err, int host_family,
			 const char *ep, const struct sockaddr *local,
			 socklen_t local_len)
{
	struct graft_sock *s;

	graft_fdt_lock();
	s = graft_fdt_get(fd);
	if (s && s->id == id && s->state == GRAFT_GRAFTING) {
		if (err) {
			s->state = GRAFT_CANDIDATE;
		} else {
			s->state = GRAFT_GRAFTED;
			s->host_family = host_family;
			s->foreign = host_family != s->family;
			strncpy(s->ep, ep, sizeof(s->ep) - 1);
			if (local && local_len <= sizeof(s->local)) {
				memcpy(&s->local, local, local_len);
				s->local_len = local_len;
			} else {
				s->local_len = graft_addr_unspec(s->family,
								 &s->local);
			}
			s->bound = local != NULL;
			s->nopts = 0;
		}
	}
	graft_fdt_unlock();
}

#define GRAFT_WRAPPER(name, required, ret, params, call)                      \
	GRAFT_EXPORT ret name params                                          \
	{                                                                     \
		return call;                                                  \
	}
#define GRAFT_WRAPPER_VA(name, required, ret, params, call)                   \
	GRAFT_EXPORT ret name params                                          \
	{                                                                     \
		va_list ap;                                                   \
		void *arg;                                                    \
									      \
		va_start(ap, cmd);                                            \
		arg = va_arg(ap, void *);                                     \
		va_end(ap);                                                   \
		return call;                                                  \
	}

GRAFT_HOOKS(GRAFT_WRAPPER, GRAFT_WRAPPER_VA)
