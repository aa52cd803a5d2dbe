/* SPDX-License-Identifier: MIT */
/*
 * log.c — the only place that writes to stderr. Each message is formatted
 * into one buffer and written with one write(2), so lines from threads do
 * not interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libgraft.h"

#define GRAFT_LOG_MAX 512

void graft_vlog(const char *prefix, const char *fmt, va_list ap)
{
	char buf[GRAFT_LOG_MAX];
	int saved = errno;
	int n, m;

	n = snprintf(buf, sizeof(buf), "%s: ", prefix);
	if (n < 0)
		n = 0;
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* Nothing sensible to do: stderr is gone. */
	}
	errno = saved;
}

void graft_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	graft_vlog("libgraft", fmt, ap);
	va_end(ap);
}

void graft_trace(const char *fmt, ...)
{
	va_list ap;

	if (!graft_cfg.verbose)
		return;
	va_start(ap, fmt);
	graft_vlog(GRAFT_LIB_NAME, fmt, ap);
	va_end(ap);
}
