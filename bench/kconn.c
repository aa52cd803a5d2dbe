// SPDX-License-Identifier: MIT
//
// kconn — where a grafted connect() spends its time (kernel backend).
//
//   kconn MODE -H ADDR -p PORT [-e EP] [-n CONNS] [-d SECS]
//
// Every mode runs the same loop as `rr crr` (connect, one byte each way,
// SO_LINGER 0, close) on one thread and prints one JSON line with the
// connection rate, the mean time of each phase in microseconds and the
// median of the whole connection ("median_us"):
//
//   plain    socket(AF_INET) + TCP_NODELAY + connect(): the baseline (under
//            libgraft's LD_PRELOAD: the application's view of a graft)
//   graft    socket(AF_GRAFT) + TCP_NODELAY + GRAFT_NAME_TRANSPARENT +
//            bind(EP) + connect(): af_graft's own cost, no libgraft
//   emulate  what libgraft's kernel backend does, by hand: the plain socket,
//            fcntl(F_GETFL, F_GETFD), the graft socket as above plus
//            GRAFT_PORT_HINT and getsockname(), dup3() onto the plain
//            socket's number, close(), connect()
//   null     getppid() CONNS times: the cost of a bare system call, of
//            reading CLOCK_MONOTONIC and CLOCK_MONOTONIC_COARSE, and of
//            fcntl(F_GETFD), which a preload library hooks
//   pair     plain and graft connections taken in turn, one each: both
//            see the same moments of a busy machine.  Prints the medians
//            of each phase and of the whole connection for both, and the
//            ratio of the medians (graft / plain).  EP must send back into
//            kconn's own namespace (an endpoint with no target namespace
//            in the initial one does).
//
// Nothing is judged here; bench/vm-egress.sh runs it in the VM.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../kernel/uapi/af_graft.h"

#ifndef SOL_GRAFT
#define SOL_GRAFT 256
#endif

enum { P_SOCKET, P_GRAFT, P_CONNECT, P_RR, P_CLOSE, P_N };
static const char *const phase_name[P_N] = { "socket", "graft", "connect",
					     "rr", "close" };

#define PAIR_MAX 200000

struct run {
	const char *mode, *ep;
	struct sockaddr_in dst;
	long conns;
	double secs;
	uint64_t t[P_N];
};

/* pair: every connection's phases (and whole time, [P_N]) per side. */
struct side {
	long n;
	uint32_t *v[P_N + 1];
};

static void die(const char *what)
{
	fprintf(stderr, "kconn: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void setopt(int fd, int level, int name, int val, const char *what)
{
	if (setsockopt(fd, level, name, &val, sizeof(val)) < 0)
		die(what);
}

/* The graft socket, bound to the endpoint (libgraft's kernel.c steps). */
static int graft_socket(const struct run *r, int full)
{
	struct sockaddr_gr sgr = { .sgr_family = AF_GRAFT };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = socket(AF_GRAFT, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket(AF_GRAFT)");
	setopt(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
	if (full)
		setopt(fd, SOL_GRAFT, GRAFT_PORT_HINT, 0, "GRAFT_PORT_HINT");
	setopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, 1,
	       "GRAFT_NAME_TRANSPARENT");
	strncpy(sgr.sgr_epname, r->ep, sizeof(sgr.sgr_epname) - 1);
	if (bind(fd, (struct sockaddr *)&sgr, sizeof(sgr)) < 0)
		die("bind(EP)");
	if (full && getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die("getsockname");
	return fd;
}

/* One connection; adds each phase's time to r->t. */
static void one(struct run *r, const char *mode)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint64_t t0 = now_ns(), t1, t2;
	int fd, gfd;
	char b = 'x';

	if (!strcmp(mode, "graft")) {
		fd = graft_socket(r, 0);
	} else {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket");
		setopt(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
	}
	t1 = now_ns();
	r->t[P_SOCKET] += t1 - t0;
	if (!strcmp(mode, "emulate")) {
		if (fcntl(fd, F_GETFL) < 0 || fcntl(fd, F_GETFD) < 0)
			die("fcntl");
		gfd = graft_socket(r, 1);
		if (dup3(gfd, fd, 0) < 0)
			die("dup3");
		close(gfd);
	}
	t2 = now_ns();
	r->t[P_GRAFT] += t2 - t1;
	if (connect(fd, (struct sockaddr *)&r->dst, sizeof(r->dst)) < 0)
		die("connect");
	t1 = now_ns();
	r->t[P_CONNECT] += t1 - t2;
	if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1)
		die("one byte each way");
	t2 = now_ns();
	r->t[P_RR] += t2 - t1;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		die("SO_LINGER");
	close(fd);
	r->t[P_CLOSE] += now_ns() - t2;
}

static double clock_cost(clockid_t id, long n)
{
	struct timespec ts;
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < n; i++)
		clock_gettime(id, &ts);
	return (double)(now_ns() - t0) / (double)n / 1000.0;
}

static int usage(void)
{
	fprintf(stderr, "usage: kconn plain|graft|emulate|pair|null -H ADDR "
			"-p PORT [-e EP] [-n CONNS] [-d SECS]\n");
	return 2;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n) in µs (sorts v). */
static double median_us(uint32_t *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u32);
	return n ? v[n / 2] / 1000.0 : 0;
}

/* One connection of side s, its phase times recorded. */
static void pair_one(struct run *r, const char *mode, struct side *s)
{
	uint64_t was[P_N], sum = 0;
	int i;

	memcpy(was, r->t, sizeof(was));
	one(r, mode);
	for (i = 0; i < P_N; i++) {
		uint64_t d = r->t[i] - was[i];

		s->v[i][s->n] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		sum += d;
	}
	s->v[P_N][s->n++] = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

static void pair_print(const char *name, struct side *s)
{
	int i;

	printf("\"%s\": {\"connections\": %ld", name, s->n);
	for (i = 0; i < P_N; i++)
		printf(", \"%s_us\": %.2f", phase_name[i],
		       median_us(s->v[i], s->n));
	printf(", \"total_us\": %.2f}", median_us(s->v[P_N], s->n));
}

/* pair: plain and graft in turn until the deadline or r->conns pairs. */
static int pair(struct run *r, uint64_t end)
{
	struct side sd[2] = { { 0 } };
	double tot[2];
	int k, i;

	if (r->conns > PAIR_MAX)
		r->conns = PAIR_MAX;
	for (k = 0; k < 2; k++)
		for (i = 0; i <= P_N; i++)
			if (!(sd[k].v[i] = calloc((size_t)r->conns, 4)))
				die("calloc");
	while (sd[1].n < r->conns && now_ns() < end) {
		pair_one(r, "plain", &sd[0]);
		pair_one(r, "graft", &sd[1]);
	}
	printf("{\"mode\": \"pair\", ");
	pair_print("plain", &sd[0]);
	printf(", ");
	pair_print("graft", &sd[1]);
	tot[0] = median_us(sd[0].v[P_N], sd[0].n);
	tot[1] = median_us(sd[1].v[P_N], sd[1].n);
	printf(", \"graft_over_plain\": %.3f}\n", tot[0] ? tot[1] / tot[0] : 0);
	return 0;
}

int main(int argc, char **argv)
{
	struct run r = { .conns = 100000, .secs = 2 };
	struct side one_side = { 0 };
	const char *host = NULL;
	int port = 0, c, i;
	uint64_t start, end;
	long n = 0;

	if (argc < 2)
		return usage();
	r.mode = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "H:p:e:n:d:")) != -1) {
		switch (c) {
		case 'H': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'e': r.ep = optarg; break;
		case 'n': r.conns = atol(optarg); break;
		case 'd': r.secs = atof(optarg); break;
		default: return usage();
		}
	}
	if (strcmp(r.mode, "plain") && strcmp(r.mode, "graft") &&
	    strcmp(r.mode, "emulate") && strcmp(r.mode, "pair") &&
	    strcmp(r.mode, "null"))
		return usage();
	if (r.conns < 1 || r.secs <= 0 || r.secs > 600)
		return usage();
	start = now_ns();
	end = start + (uint64_t)(r.secs * 1e9);
	if (!strcmp(r.mode, "null")) {
		for (n = 0; n < r.conns; n++)
			getppid();
		printf("{\"mode\": \"null\", \"calls\": %ld, \"syscall_us\": "
		       "%.3f",
		       n, (double)(now_ns() - start) / (double)n / 1000.0);
		/* What reading the clock costs (a system call and a clock
		 * device read when the clocksource has no vDSO mode). */
		printf(", \"clock_monotonic_us\": %.3f, "
		       "\"clock_monotonic_coarse_us\": %.3f",
		       clock_cost(CLOCK_MONOTONIC, n),
		       clock_cost(CLOCK_MONOTONIC_COARSE, n));
		/* fcntl() is one a preload library hooks (F_GETFD: no work). */
		start = now_ns();
		for (i = 0; i < n; i++)
			fcntl(1, F_GETFD);
		printf(", \"fcntl_us\": %.3f}\n",
		       (double)(now_ns() - start) / (double)n / 1000.0);
		return 0;
	}
	if (!host || port <= 0 || port > 65535 ||
	    (strcmp(r.mode, "plain") && !r.ep))
		return usage();
	r.dst.sin_family = AF_INET;
	r.dst.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &r.dst.sin_addr) != 1)
		return usage();
	if (!strcmp(r.mode, "pair"))
		return pair(&r, end);
	if (r.conns > PAIR_MAX)
		r.conns = PAIR_MAX;
	for (i = 0; i <= P_N; i++)
		if (!(one_side.v[i] = calloc((size_t)r.conns, 4)))
			die("calloc");
	while (n < r.conns && now_ns() < end) {
		pair_one(&r, r.mode, &one_side);
		n++;
	}
	printf("{\"mode\": \"%s\", \"connections\": %ld, \"conn_per_s\": %.1f",
	       r.mode, n, (double)n * 1e9 / (double)(now_ns() - start));
	for (i = 0; i < P_N; i++)
		printf(", \"%s_us\": %.2f", phase_name[i],
		       (double)r.t[i] / (double)n / 1000.0);
	printf(", \"median_us\": %.2f}\n", median_us(one_side.v[P_N], n));
	return 0;
}
