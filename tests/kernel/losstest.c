// SPDX-License-Identifier: GPL-2.0
/*
 * losstest — the sender and receiver of test-close-loss.sh.
 *
 *   losstest recv ADDR PORT IDLE     listen on ADDR:PORT (plain AF_INET),
 *                                    accept one connection, count bytes until
 *                                    EOF or IDLE seconds without data; print
 *                                    "ready" once listening, then
 *                                    "RECV bytes=N eof=0|1"
 *   losstest send EP ADDR PORT BYTES [wait]
 *                                    AF_GRAFT socket bound to EP, connect,
 *                                    (with "wait": print "connected" and wait
 *                                    for a line on stdin), write BYTES,
 *                                    close() at once; print
 *                                    "SENT bytes=N outq=Q"
 *
 * The sender's send buffer is set to hold BYTES, so that with "wait" all the
 * data can be queued while the link drops every packet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uapi/af_graft.h"

static void die(const char *what)
{
	fprintf(stderr, "losstest: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in inet_addr_of(const char *a, const char *p)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(atoi(p)) };

	if (inet_pton(AF_INET, a, &s.sin_addr) != 1) {
		fprintf(stderr, "losstest: bad address %s\n", a);
		exit(2);
	}
	return s;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int do_recv(const char *a, const char *p, int idle)
{
	struct sockaddr_in s = inet_addr_of(a, p);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), c;
	struct pollfd pf = { .events = POLLIN };
	static char buf[65536];
	long long got = 0;
	int eof = 0;

	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&s, sizeof(s)) || listen(l, 1))
		die("listen");
	printf("ready\n");
	fflush(stdout);
	pf.fd = l;
	if (poll(&pf, 1, 60000) != 1) {
		printf("RECV bytes=0 eof=0 (no connection in 60 s)\n");
		return 1;
	}
	c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	pf.fd = c;
	while (poll(&pf, 1, idle * 1000) == 1) {
		ssize_t n = read(c, buf, sizeof(buf));

		if (n < 0)
			die("read");
		if (n == 0) {
			eof = 1;
			break;
		}
		got += n;
	}
	printf("RECV bytes=%lld eof=%d\n", got, eof);
	close(c);
	close(l);
	return 0;
}

static int do_send(const char *ep, const char *a, const char *p, long long bytes, int wait)
{
	struct sockaddr_in dst = inet_addr_of(a, p);
	struct sockaddr_gr g = { .sgr_family = AF_GRAFT };
	int fd = socket(AF_GRAFT, SOCK_STREAM, 0), sndbuf = (int)bytes, outq = -1;
	static char buf[65536];
	long long sent = 0;
	double t0;
	char line[16];

	signal(SIGPIPE, SIG_IGN);
	memset(buf, 'x', sizeof(buf));
	strncpy(g.sgr_epname, ep, sizeof(g.sgr_epname) - 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&g, sizeof(g)))
		die("graft socket bound to the endpoint");
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
		die("SO_SNDBUF");
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
		die("connect");
	if (wait) {
		printf("connected\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			die("waiting for the go");
	}
	t0 = now();
	while (sent < bytes) {
		size_t want = bytes - sent > (long long)sizeof(buf) ? sizeof(buf) : (size_t)(bytes - sent);
		ssize_t n = write(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("write");
		sent += n;
	}
	ioctl(fd, SIOCOUTQ, &outq);
	close(fd);
	printf("SENT bytes=%lld outq=%d in %.2fs\n", sent, outq, now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "recv"))
		return do_recv(argv[2], argv[3], atoi(argv[4]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], argv[4], atoll(argv[5]),
			       argc == 7 && !strcmp(argv[6], "wait"));
	fprintf(stderr, "usage: see the comment at the top of losstest.c\n");
	return 2;
}
