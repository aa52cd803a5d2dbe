// SPDX-License-Identifier: GPL-2.0
/*
 * scmcycle EP PATH COUNT — COUNT times: a graft listener on the unix
 * endpoint EP (host path PATH), a plain unix client connects, the accepted
 * graft socket is sent by the client over SCM_RIGHTS, so that it lands in
 * its own host socket's receive queue, and every descriptor is closed.
 * Without a collector, each round leaves a graft socket (and the module's
 * use count) behind for good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "uapi/af_graft.h"

static void die(const char *what)
{
	fprintf(stderr, "scmcycle: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void send_fd(int via, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(via, &m, 0) != 1)
		die("sendmsg(SCM_RIGHTS)");
}

static void one_round(const char *ep, const char *path)
{
	struct sockaddr_gr g = { .sgr_family = AF_GRAFT };
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	int l, c, a;

	strncpy(g.sgr_epname, ep, sizeof(g.sgr_epname) - 1);
	strncpy(u.sun_path, path, sizeof(u.sun_path) - 1);
	unlink(path);
	l = socket(AF_GRAFT, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&g, sizeof(g)) || listen(l, 1))
		die("graft listener");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&u, sizeof(u)))
		die("connect");
	a = accept(l, NULL, NULL);
	if (a < 0)
		die("accept");
	send_fd(c, a);	/* into a's own host socket's queue */
	close(a);
	close(c);
	close(l);
}

int main(int argc, char **argv)
{
	int i, n;

	if (argc != 4) {
		fprintf(stderr, "usage: scmcycle EP PATH COUNT\n");
		return 2;
	}
	n = atoi(argv[3]);
	for (i = 0; i < n; i++)
		one_round(argv[1], argv[2]);
	unlink(argv[2]);
	printf("scmcycle: %d accepted graft socket(s) sent into their own host's queue, all closed (uid %d)\n",
	       n, getuid());
	return 0;
}
