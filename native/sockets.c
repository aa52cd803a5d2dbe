/* SPDX-License-Identifier: MIT */
/*
 * Making a batch of grafted sockets in one call (see graft_native.h for the
 * sequence). The caller has already decided everything; a failure is
 * reported as errno + step, and every descriptor made so far is closed.
 */
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <unistd.h>

#include "graft_native.h"

#define GN_EXPORT __attribute__((visibility("default")))

/*
 * Set once a thread could not return to its home namespace: it would make
 * later sockets in the wrong one, so nothing more is made (the broker
 * serves every request on one thread).
 */
static int stranded;

static int fail(struct gn_result *r, int step, int err)
{
	r->step = step;
	r->err = err;
	r->made = 0;
	return -1;
}

static void close_all(struct gn_result *r, int from, int to)
{
	for (int i = from; i < to; i++)
		close(r->fds[i]);
}

/* socket() up to p->count times; the number made (>= 1) or -1 with step/err set. */
static int create(const struct gn_plan *p, struct gn_result *r)
{
	int n = gn_uring_sockets(p, r, (int)p->count);

	if (n != GN_URING_NO)
		return n;
	for (n = 0; n < (int)p->count; n++) {
		int fd = socket(p->family, p->type | SOCK_CLOEXEC, p->protocol);

		if (fd < 0) {
			if (n == 0)
				return fail(r, GN_STEP_SOCKET, errno);
			break;
		}
		r->fds[n] = fd;
	}
	return n;
}

/* create() as p->owner, in p->target_fd's namespace; back home after. */
static int create_there(const struct gn_plan *p, struct gn_result *r)
{
	int n, e;

	if (p->owner)
		setfsuid(p->owner);
	if (p->target_fd >= 0 && setns(p->target_fd, CLONE_NEWNET) < 0) {
		e = errno;
		if (p->owner)
			setfsuid(0);
		return fail(r, GN_STEP_SETNS_IN, e);
	}
	n = create(p, r);
	e = errno;
	if (p->target_fd >= 0 && setns(p->home_fd, CLONE_NEWNET) < 0) {
		e = errno;
		stranded = 1;
		if (n > 0)
			close_all(r, 0, n);
		n = fail(r, GN_STEP_SETNS_BACK, e);
	}
	if (p->owner)
		setfsuid(0);
	errno = e;
	return n;
}

/* Options, bind and listen on one socket: 0, or -1 with step/err/opt set. */
static int configure(const struct gn_plan *p, int fd, struct gn_result *r)
{
	for (uint32_t i = 0; i < p->nopts; i++) {
		const struct gn_opt *o = &p->opts[i];

		if (setsockopt(fd, o->level, o->name, o->val, o->len) == 0)
			continue;
		if (o->optional && errno == ENOPROTOOPT)
			continue; /* the family does not know it: skipped, as the kernel backend does */
		r->opt = (int32_t)i;
		return fail(r, GN_STEP_SETSOCKOPT, errno);
	}
	if (bind(fd, (const struct sockaddr *)p->sa, p->salen) < 0)
		return fail(r, GN_STEP_BIND, errno);
	if ((p->flags & GN_LISTEN) && listen(fd, 4096) < 0)
		return fail(r, GN_STEP_LISTEN, errno);
	return 0;
}

/* configure() r->fds[0..want) in order: how many in a row are ready (a failure ends the batch). */
static int configure_each(const struct gn_plan *p, struct gn_result *r, int want)
{
	int ok = 0;

	while (ok < want && configure(p, r->fds[ok], r) == 0)
		ok++;
	return ok;
}

static int plan_ok(const struct gn_plan *p)
{
	if (p->count < 1 || p->count > GN_SOCKETS_MAX || p->nopts > GN_OPTS_MAX)
		return 0;
	if (p->given >= 0 && p->count != 1)
		return 0; /* a given socket serves a single request */
	if ((p->flags & GN_BARE) && (p->given >= 0 || p->reply_fd >= 0 || (p->flags & GN_GETNAME)))
		return 0; /* spares are only made */
	if (p->salen < sizeof(sa_family_t) || p->salen > GN_ADDR_MAX)
		return 0;
	for (uint32_t i = 0; i < p->nopts; i++) {
		if (p->opts[i].len < 1 || p->opts[i].len > GN_OPTVAL_MAX)
			return 0;
	}
	return 1;
}

GN_EXPORT int32_t graft_make_sockets(const struct gn_plan *p, struct gn_result *r)
{
	int n, ok;

	memset(r, 0, offsetof(struct gn_result, addr));
	r->opt = -1;
	if (stranded || !plan_ok(p)) {
		if (p->given >= 0)
			close(p->given); /* it is ours from the call on */
		if (stranded)
			return fail(r, GN_STEP_SETNS_BACK, ENOTRECOVERABLE);
		return fail(r, GN_STEP_PLAN, EINVAL);
	}
	if (p->given >= 0) {
		r->fds[0] = p->given; /* made earlier, in the namespace and as the owner it was made for */
		n = 1;
	} else {
		n = create_there(p, r);
		if (n < 0)
			return -1;
	}
	if ((p->given >= 0 && (p->flags & GN_READY)) || (p->flags & GN_BARE)) {
		ok = n; /* prepared earlier (options set and bound), or spares to keep bare */
	} else {
		ok = gn_uring_configure(p, r, n, configure);
		if (ok == GN_URING_NO)
			ok = configure_each(p, r, n);
	}
	if (ok == 0) {
		close_all(r, 0, n);
		return -1;
	}
	close_all(r, ok, n);
	r->made = ok;
	r->step = GN_STEP_NONE;
	r->err = 0;
	r->opt = -1;
	if (p->flags & GN_GETNAME) {
		socklen_t len = GN_ADDR_MAX;

		if (getsockname(r->fds[0], (struct sockaddr *)r->addr, &len) < 0) {
			int e = errno;

			close_all(r, 0, ok);
			return fail(r, GN_STEP_GETSOCKNAME, e);
		}
		r->addrlen = len < GN_ADDR_MAX ? len : GN_ADDR_MAX;
	} else {
		memcpy(r->addr, p->sa, p->salen);
		r->addrlen = p->salen;
	}
	if (p->reply_fd >= 0)
		graft_send_reply(p, r);
	return ok;
}

GN_EXPORT int32_t graft_native_layout(uint32_t *out, uint32_t n)
{
	const uint32_t v[] = {
		GN_ABI,
		sizeof(struct gn_plan),
		sizeof(struct gn_result),
		sizeof(struct gn_opt),
		offsetof(struct gn_plan, reply_fd),
		offsetof(struct gn_plan, given),
		offsetof(struct gn_plan, sa),
		offsetof(struct gn_plan, opts),
		offsetof(struct gn_result, addrlen),
		offsetof(struct gn_result, reserved1),
		offsetof(struct gn_result, addr),
		offsetof(struct gn_result, fds),
		GN_OPTS_MAX,
		GN_RECV_META,
	};
	uint32_t i;

	for (i = 0; i < n && i < sizeof(v) / sizeof(v[0]); i++)
		out[i] = v[i];
	return (int32_t)i;
}
