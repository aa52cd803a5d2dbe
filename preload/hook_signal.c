/* SPDX-License-Identifier: MIT */
/*
 * hook_signal.c — sigaction() and signal() with its variants: before a
 * handler is installed, every real function is looked up (real.c), so a
 * hook that a handler calls never looks one up there: dlsym() is not
 * async-signal-safe. A program that installs no handler (most one-shot
 * clients: SIG_IGN and SIG_DFL do not count) looks up only what it uses.
 * Not seen: handlers installed with the raw rt_sigaction system call.
 */
#include <errno.h>

#include "hooks.h"

/* A disposition that runs code of the program's. */
static bool is_handler(__sighandler_t h)
{
	return h != SIG_DFL && h != SIG_IGN && h != SIG_ERR && h != SIG_HOLD;
}

int graft_sigaction_impl(int sig, const struct sigaction *act,
			 struct sigaction *old)
{
	__typeof__(sigaction) *real = GRAFT_REAL(sigaction);

	if (act && is_handler(act->sa_handler))
		graft_real_resolve_all();
	return real(sig, act, old);
}

/* signal(), bsd_signal(), ssignal(), sysv_signal(), sigset(): one shape. */
__sighandler_t graft_signal_impl(enum graft_real_id id, int sig,
				 __sighandler_t h)
{
	__sighandler_t (*real)(int, __sighandler_t) = graft_real_opt(id);

	if (!real) {
		errno = ENOSYS;
		return SIG_ERR;
	}
	if (is_handler(h))
		graft_real_resolve_all();
	return real(sig, h);
}
