// SPDX-License-Identifier: GPL-2.0
/*
 * scmcycle EP PATH COUNT [SHAPE] — COUNT times, build a cycle of SCM_RIGHTS
 * references through graft sockets whose host sockets are AF_UNIX (accepted
 * from a graft listener on the unix endpoint EP, host path PATH), then close
 * every descriptor: only in-flight references are left, each held by a
 * queue that nothing outside the cycle can read.  The unix garbage collector
 * only follows unix sockets' files, so without af_graft's own collector each
 * round leaves its graft sockets (and the module's use count) behind.
 *
 *   self      a accepted from the listener; its client c sends a over
 *             itself: a is in its own host's queue            (a -> a)
 *   pair      a1, a2 accepted; c2 sends a1 (into a2's host's queue), c1
 *             sends a2 (into a1's host's queue)          (a1 -> a2 -> a1)
 *   ring      the same through three:           (a1 -> a3 -> a2 -> a1)
 *   unix      a plain unix socketpair (p, q): p sends a (into q's queue),
 *             c sends q (into a's host's queue)          (a -> q -> a)
 *   listener  the graft listener l itself, sent by a client c that was not
 *             accepted yet: in the queue of l's host's embryo (l -> l)
 *   all       each of the above in turn
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "uapi/af_graft.h"

#define PROG "scmcycle"

static const char *ep, *path;

static void die(const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
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

/* A graft listener on EP (PATH made anew). */
static int graft_listener(void)
{
	struct sockaddr_gr g = { .sgr_family = AF_GRAFT };
	int l;

	strncpy(g.sgr_epname, ep, sizeof(g.sgr_epname) - 1);
	unlink(path);
	l = socket(AF_GRAFT, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&g, sizeof(g)) || listen(l, 8))
		die("graft listener");
	return l;
}

/* A plain unix client of the listener's host socket. */
static int unix_client(void)
{
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	int c = socket(AF_UNIX, SOCK_STREAM, 0);

	strncpy(u.sun_path, path, sizeof(u.sun_path) - 1);
	if (c < 0 || connect(c, (struct sockaddr *)&u, sizeof(u)))
		die("connect");
	return c;
}

/* n accepted graft sockets a[i], each with its client c[i]. */
static void accepted(int l, int n, int *a, int *c)
{
	for (int i = 0; i < n; i++) {
		c[i] = unix_client();
		a[i] = accept(l, NULL, NULL);
		if (a[i] < 0)
			die("accept");
	}
}

static void close_all(const int *fd, int n)
{
	for (int i = 0; i < n; i++)
		close(fd[i]);
}

/* self, pair and ring: c[(i + 1) % n] sends a[i] (into a[i + 1]'s host). */
static void ring(int n)
{
	int l = graft_listener(), a[3], c[3];

	accepted(l, n, a, c);
	for (int i = 0; i < n; i++)
		send_fd(c[(i + 1) % n], a[i]);
	close_all(a, n);
	close_all(c, n);
	close(l);
}

static void through_unix(void)
{
	int l = graft_listener(), a, c, pq[2];

	accepted(l, 1, &a, &c);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pq))
		die("socketpair");
	send_fd(pq[0], a);	/* a in q's queue */
	send_fd(c, pq[1]);	/* q in a's host's queue */
	close(a);
	close(c);
	close_all(pq, 2);
	close(l);
}

static void listener(void)
{
	int l = graft_listener(), c = unix_client();

	send_fd(c, l);		/* l in its host's embryo's queue */
	close(c);
	close(l);
}

static int one_shape(const char *shape)
{
	if (!strcmp(shape, "self"))
		ring(1);
	else if (!strcmp(shape, "pair"))
		ring(2);
	else if (!strcmp(shape, "ring"))
		ring(3);
	else if (!strcmp(shape, "unix"))
		through_unix();
	else if (!strcmp(shape, "listener"))
		listener();
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const all[] = { "self", "pair", "ring", "unix", "listener" };
	const char *shape = argc > 4 ? argv[4] : "self";
	int i, k, n;

	if (argc < 4 || argc > 5 || (n = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: " PROG " EP PATH COUNT [self|pair|ring|unix|listener|all]\n");
		return 2;
	}
	ep = argv[1];
	path = argv[2];
	for (i = 0; i < n; i++) {
		if (strcmp(shape, "all")) {
			if (one_shape(shape)) {
				fprintf(stderr, PROG ": unknown shape '%s'\n", shape);
				return 2;
			}
			continue;
		}
		for (k = 0; k < 5; k++)
			one_shape(all[k]);
	}
	unlink(path);
	printf(PROG ": %d round(s) of '%s' cycles built and closed (uid %d)\n", n, shape, getuid());
	return 0;
}
