/* SPDX-License-Identifier: MIT */
/*
 * hook_fd.c — close(), close_range(), dup(), dup2(), dup3(), fcntl(): the
 * table follows descriptor numbers as the application moves them. A
 * speculative socket (spec.c) is swapped back before it is duplicated.
 */
#include <errno.h>
#include <fcntl.h>

#include "hooks.h"
#include "spec.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int graft_close_impl(int fd)
{
	graft_init();
	graft_forget_fd(fd);
	return GRAFT_REAL(close)(fd);
}

int graft_close_range_impl(unsigned int first, unsigned int last,
				  int flags)
{
	__typeof__(close_range) *real = GRAFT_REAL_OPT(close_range);
	int err;

	graft_init();
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	/* Forget first, as close() does: a graft in flight on one of these
	 * numbers must not land on whatever reuses it. */
	if (!((unsigned int)flags & CLOSE_RANGE_CLOEXEC) &&
	    !graft_nothing_tracked() && first <= last) {
		err = errno;
		graft_fdt_lock();
		graft_fdt_drop_range(first, last);
		graft_fdt_unlock();
		errno = err;
	}
	return real(first, last, flags);
}

/* After a successful dup of oldfd onto newfd. */
static void track_dup(int oldfd, int newfd)
{
	int err;

	if (newfd < 0 || oldfd == newfd || graft_fdt_count() == 0)
		return;
	err = errno;
	graft_fdt_lock();
	graft_fdt_dup(oldfd, newfd);
	graft_fdt_unlock();
	errno = err;
}

int graft_dup_impl(int fd)
{
	int nfd;

	graft_init();
	/* Two numbers on a stocked socket could not both be swapped back. */
	if (graft_spec_settle(fd, "dup()") < 0)
		return -1;
	nfd = GRAFT_REAL(dup)(fd);
	track_dup(fd, nfd);
	return nfd;
}

int graft_dup2_impl(int fd, int fd2)
{
	int rc;

	graft_init();
	if (fd != fd2 && graft_spec_settle(fd, "dup2()") < 0)
		return -1;
	if (fd != fd2)
		graft_forget_fd(fd2); /* before the number changes hands */
	rc = GRAFT_REAL(dup2)(fd, fd2);
	if (rc >= 0)
		track_dup(fd, fd2);
	return rc;
}

int graft_dup3_impl(int fd, int fd2, int flags)
{
	int rc;

	graft_init();
	if (fd != fd2 && graft_spec_settle(fd, "dup3()") < 0)
		return -1;
	if (fd != fd2)
		graft_forget_fd(fd2); /* before the number changes hands */
	rc = GRAFT_REAL(dup3)(fd, fd2, flags);
	if (rc >= 0)
		track_dup(fd, fd2);
	return rc;
}

int graft_fcntl_impl(bool is64, int fd, int cmd, void *arg)
{
	int (*real)(int, int, ...);
	int rc;

	graft_init();
	real = is64 ? GRAFT_REAL_OPT(fcntl64) : NULL;
	if (!real)
		real = GRAFT_REAL(fcntl);
	if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) &&
	    graft_spec_settle(fd, "fcntl()") < 0)
		return -1;
	rc = real(fd, cmd, arg);
	if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		track_dup(fd, rc);
	return rc;
}
