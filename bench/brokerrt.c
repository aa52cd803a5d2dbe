/* SPDX-License-Identifier: MIT */
/*
 * brokerrt — time the graft broker itself, without an application around it.
 *
 *   brokerrt -s SOCKET -e ENDPOINT [-n COUNT] [-b BATCH] [-d SECONDS]
 *
 * Speaks the wire protocol of preload/graft_proto.h over one SOCK_SEQPACKET
 * connection, as libgraft does, from the caller's network namespace (run it
 * in the namespace whose endpoint ENDPOINT is). Two measurements, each
 * bounded by COUNT requests and SECONDS:
 *   single  GRAFT_OP_SOCKET for a TCP client socket, one at a time: the
 *           round trip of one graft (request, socket made and bound in the
 *           target namespace, reply with the descriptor), percentiles in µs;
 *   batch   GRAFT_OP_SOCKETS of BATCH sockets (libgraft's stock refill):
 *           µs per socket.
 * Every received descriptor is closed, after the clock has stopped. Prints
 * one JSON object.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../preload/graft_reply.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "brokerrt: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One request and its reply; the descriptors received go to fds, their number is returned. */
static int round_trip(int s, const char *ep, uint32_t seq, uint32_t batch, int *fds)
{
	struct graft_socks_req rq;
	struct graft_reply r;
	size_t len = batch ? sizeof(rq) : sizeof(rq.req);
	int got;

	memset(&rq, 0, sizeof(rq));
	rq.req.hdr.magic = GRAFT_PROTO_MAGIC;
	rq.req.hdr.version = GRAFT_PROTO_VERSION;
	rq.req.hdr.op = batch ? GRAFT_OP_SOCKETS : GRAFT_OP_SOCKET;
	rq.req.hdr.len = (uint32_t)len;
	rq.req.hdr.seq = seq;
	snprintf(rq.req.ep, sizeof(rq.req.ep), "%s", ep);
	rq.req.family = AF_INET;
	rq.req.type = SOCK_STREAM;
	rq.count = batch;
	if (send(s, &rq, len, MSG_NOSIGNAL) != (ssize_t)len)
		die("send");
	graft_reply_init(&r);
	if (recvmsg(s, &r.mh, MSG_CMSG_CLOEXEC) < (ssize_t)sizeof(r.u.resp))
		die("recvmsg");
	got = graft_reply_fds(&r.mh, fds, GRAFT_SOCKETS_MAX, close);
	if (r.u.resp.status != 0 || r.u.resp.hdr.seq != seq || got == 0) {
		fprintf(stderr, "brokerrt: refused (%d): %.*s\n", r.u.resp.status,
			GRAFT_MSG_MAX, r.u.resp.msg);
		exit(1);
	}
	return got;
}

/* A timed round trip (µs); the descriptors are closed after the clock stops. */
static double timed(int s, const char *ep, uint32_t seq, uint32_t batch, int *got)
{
	int fds[GRAFT_SOCKETS_MAX];
	double t0 = now_us(), t;

	*got = round_trip(s, ep, seq, batch, fds);
	t = now_us() - t0;
	for (int i = 0; i < *got; i++)
		close(fds[i]);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *ep = NULL;
	long count = 2000, batch = GRAFT_SOCKETS_MAX;
	double secs = 1, *lat, t1, deadline;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long i, n, sockets = 0, batches = 0;
	uint32_t seq = 1;
	int opt, s, got;

	while ((opt = getopt(argc, argv, "s:e:n:b:d:")) != -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 'e': ep = optarg; break;
		case 'n': count = atol(optarg); break;
		case 'b': batch = atol(optarg); break;
		case 'd': secs = atof(optarg); break;
		default: goto usage;
		}
	}
	if (!path || !ep || count < 1 || count > 1000000 || batch < 1 ||
	    batch > GRAFT_SOCKETS_MAX || secs <= 0 || secs > 60 ||
	    strlen(path) >= sizeof(sun.sun_path))
		goto usage;
	memcpy(sun.sun_path, path, strlen(path));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die(path);
	lat = calloc((size_t)count, sizeof(*lat));
	if (!lat)
		die("calloc");
	for (i = 0; i < 20; i++) /* warm up */
		timed(s, ep, seq++, 0, &got);
	deadline = now_us() + secs * 1e6;
	for (n = 0; n < count && now_us() < deadline; n++)
		lat[n] = timed(s, ep, seq++, 0, &got);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	t1 = 0;
	deadline = now_us() + secs * 1e6;
	while (sockets < count && now_us() < deadline) {
		t1 += timed(s, ep, seq++, (uint32_t)batch, &got);
		sockets += got;
		batches++;
	}
	printf("{\"single_n\": %ld, \"single_p50_us\": %.1f, \"single_p99_us\": %.1f, "
	       "\"batch\": %ld, \"batches\": %ld, \"batch_us_per_socket\": %.2f}\n",
	       n, lat[n / 2], lat[n * 99 / 100], batch, batches,
	       sockets ? t1 / (double)sockets : 0.0);
	free(lat);
	close(s);
	return 0;
usage:
	fprintf(stderr, "usage: brokerrt -s SOCKET -e ENDPOINT [-n COUNT] [-b BATCH] [-d SECONDS]\n");
	return 2;
}
