/* SPDX-License-Identifier: MIT */
/*
 * brokerrt — time the graft broker itself, without an application around it.
 *
 *   brokerrt -s SOCKET -e ENDPOINT [-n COUNT] [-b BATCH] [-d SECONDS] [-w US] [-t FILE]
 *
 * Speaks the wire protocol of preload/graft_proto.h over one SOCK_SEQPACKET
 * connection, as libgraft does, from the caller's network namespace (run it
 * in the namespace whose endpoint ENDPOINT is). Two measurements, each
 * bounded by COUNT requests and SECONDS:
 *   single  GRAFT_OP_SOCKET for a TCP client socket, one at a time: the
 *           round trip of one graft (request, socket made and bound in the
 *           target namespace, reply with the descriptor), percentiles and
 *           mean in µs (the broker makes spare sockets on some of them, which
 *           the median does not see and the mean does); the reply is waited
 *           for as libgraft waits for it (preload/graft_spin.h: polled
 *           without blocking for a while when the last one came quickly);
 *           each run of BLOCK requests alternates with one to the floor (below);
 *   batch   GRAFT_OP_SOCKETS of BATCH sockets (libgraft's stock refill):
 *           µs per socket.
 * Every received descriptor is closed, after the clock has stopped. Prints
 * one JSON object.
 *
 * The floor: what this machine allows any separate process answering the
 * same request. A forked child, written to be as small as a broker can be,
 * waits on a SOCK_SEQPACKET pair as the broker waits (graft_spin.h, with
 * the broker's default window, or -w US, reading the pair directly while
 * it spins), reads the request, makes the
 * socket (socket, IP_BIND_ADDRESS_NO_PORT, bind to 127.0.0.1) and replies
 * with it by SCM_RIGHTS: the same work without a namespace switch, a policy
 * or a runtime. Its round trips are interleaved with the broker's in runs
 * of BLOCK (one for one, both waiters would spin at once and take turns on
 * the CPUs), so both see the same load; floor_round_trip_us is their median
 * and single_over_floor the median of the per-pair ratios. Then a quarter
 * as many round trips to a floor where both sides block in poll() and
 * recvmsg() (no spinning): floor_block_us, their median.
 *
 * Where the broker ran: after each of its runs of BLOCK, the CPU its main
 * thread last ran on (/proc/PID/stat, PID from SO_PEERCRED) is compared
 * with ours. single_p50_apart_us and single_p50_together_us are the median
 * round trips of the runs that ended with the broker on another CPU and on
 * ours, together_share the share of runs on ours. Sharing a CPU costs two
 * switches between processes per round trip whatever the broker does:
 * switch_floor_us is what two processes pinned to one CPU take to pass a
 * byte over a SOCK_SEQPACKET pair and back (median of SWITCH_RUNS runs).
 *
 * -t FILE writes every paired round trip, in the order they were made, to
 * FILE: one line "broker_us floor_us" per pair (the JSON is unchanged), to
 * see how the times spread and what comes before the slow ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../preload/graft_reply.h"
#include "../preload/graft_spin.h"

/* Requests to one responder before turning to the other. */
#define BLOCK 16
/* The switch floor: runs, and round trips per run. */
#define SWITCH_RUNS 5
#define SWITCH_N 400

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

/*
 * One request and its reply, waited for as libgraft waits (spin: NULL
 * blocks); the descriptors received go to fds, their number is returned.
 */
static int round_trip(int s, const char *ep, uint32_t seq, uint32_t batch, int *fds,
		      struct graft_spin *spin)
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
	if ((spin ? graft_spin_recvmsg(spin, s, &r.mh, MSG_CMSG_CLOEXEC, recvmsg)
		  : recvmsg(s, &r.mh, MSG_CMSG_CLOEXEC)) < (ssize_t)sizeof(r.u.resp))
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
static double timed(int s, const char *ep, uint32_t seq, uint32_t batch, int *got,
		    struct graft_spin *spin)
{
	int fds[GRAFT_SOCKETS_MAX];
	double t0 = now_us(), t;

	*got = round_trip(s, ep, seq, batch, fds, spin);
	t = now_us() - t0;
	for (int i = 0; i < *got; i++)
		close(fds[i]);
	return t;
}

/* The floor's request, read as the broker reads one: without blocking. */
struct floor_in {
	int s;
	union {
		struct graft_sock_req req;
		uint8_t raw[GRAFT_PACKET_MAX];
	} u;
};

static int floor_read(void *ctx)
{
	struct floor_in *in = ctx;
	ssize_t n = recv(in->s, &in->u, sizeof(in->u), MSG_DONTWAIT);

	return n < 0 ? -errno : (int)n;
}

/*
 * The floor's responder: serve GRAFT_OP_SOCKET requests on s until it is
 * closed, waiting as the broker does with a window of window_us (0: blocking).
 */
static void floor_serve(int s, uint32_t window_us)
{
	struct graft_spin spin = { .window_us = window_us };
	struct floor_in in = { .s = s };
	struct graft_spin_hot hot = { .fd = s, .read = floor_read, .ctx = &in };

	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		struct sockaddr_in a = { .sin_family = AF_INET };
		struct graft_sock_resp resp;
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = { .iov_base = &resp, .iov_len = sizeof(resp) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *c;
		int one = 1, fd;

		if (graft_spin_poll(&spin, &p, 1, -1, &hot) < 0 ||
		    (hot.got ? hot.result : floor_read(&in)) <= 0)
			_exit(0);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0 ||
		    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(1);
		memset(&resp, 0, sizeof(resp));
		resp.hdr = in.u.req.hdr;
		resp.hdr.len = sizeof(resp);
		resp.family = AF_INET;
		resp.addrlen = sizeof(a);
		memcpy(resp.addr, &a, sizeof(a));
		memset(&ctl, 0, sizeof(ctl));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
			_exit(0);
		close(fd);
	}
}

/* Fork a floor responder; its end of the pair is returned in *child. */
static int floor_start(pid_t *child, uint32_t window_us)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	*child = fork();
	if (*child < 0)
		die("fork");
	if (*child == 0) {
		close(sv[0]);
		floor_serve(sv[1], window_us);
	}
	close(sv[1]);
	return sv[0];
}

/* The paired round trips, in order, to `path` (-t). */
static void dump(const char *path, const double *lat, const double *flat, long n)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die(path);
	for (long i = 0; i < n; i++)
		fprintf(f, "%.2f %.2f\n", lat[i], flat[i]);
	if (fclose(f) != 0)
		die(path);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (v is sorted in place); 0 for none. */
static double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : 0;
}

/* The CPU the thread `pid` last ran on (field 39 of /proc/PID/stat), or -1. */
static int last_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	int fd, field;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	for (field = 2; p && field < 39; field++)
		p = strchr(p + 1, ' ');
	return p ? atoi(p + 1) : -1;
}

/* The broker's process, from the connection (0: unknown). */
static pid_t peer_pid(int s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
}

/* One byte there and back between this process and its child, pinned to one CPU (µs, median of runs). */
static double switch_floor(void)
{
	double runs[SWITCH_RUNS], t0;
	cpu_set_t was, one;
	int sv[2], cpu = sched_getcpu();
	char c = 0;
	pid_t child;

	if (cpu < 0 || sched_getaffinity(0, sizeof(was), &was) < 0)
		return 0;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) < 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(sv[0]);
		while (read(sv[1], &c, 1) == 1 && write(sv[1], &c, 1) == 1)
			;
		_exit(0);
	}
	close(sv[1]);
	for (int r = 0; r < SWITCH_RUNS; r++) {
		t0 = now_us();
		for (int i = 0; i < SWITCH_N; i++)
			if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1)
				die("switch floor");
		runs[r] = (now_us() - t0) / SWITCH_N;
	}
	close(sv[0]);
	waitpid(child, NULL, 0);
	sched_setaffinity(0, sizeof(was), &was);
	return median(runs, SWITCH_RUNS);
}

/*
 * Runs of BLOCK broker round trips and BLOCK floor ones, paired in order; the
 * number of pairs. where[i]: 1 if the broker's run ended on our CPU, 0 on
 * another, -1 unknown.
 */
static long paired(int s, int f, const char *ep, uint32_t *seq, long count, double secs,
		   double *lat, double *flat, double *ratio, signed char *where)
{
	pid_t broker = peer_pid(s);
	struct graft_spin bs = { .window_us = GRAFT_SPIN_REPLY_US };
	struct graft_spin fs = { .window_us = GRAFT_SPIN_REPLY_US };
	double deadline;
	long n, j, k;
	int got, cpu;

	for (j = 0; j < 2 * BLOCK; j++) { /* warm up */
		timed(s, ep, (*seq)++, 0, &got, &bs);
		timed(f, ep, (*seq)++, 0, &got, &fs);
	}
	deadline = now_us() + secs * 1e6;
	for (n = 0; n < count && now_us() < deadline; n += k) {
		k = count - n < BLOCK ? count - n : BLOCK;
		for (j = 0; j < k; j++)
			lat[n + j] = timed(s, ep, (*seq)++, 0, &got, &bs);
		cpu = broker ? last_cpu(broker) : -1;
		memset(&where[n], cpu < 0 ? -1 : cpu == sched_getcpu(), (size_t)k);
		for (j = 0; j < k; j++)
			flat[n + j] = timed(f, ep, (*seq)++, 0, &got, &fs);
		for (j = 0; j < k; j++)
			ratio[n + j] = lat[n + j] / flat[n + j];
	}
	return n;
}

/* The median of lat[i] over the i < n with where[i] == cls (0: none); their number in *count. */
static double median_where(const double *lat, const signed char *where, long n, int cls,
			   long *count)
{
	double *buf = calloc((size_t)n + 1, sizeof(*buf)), med;
	long m = 0;

	if (!buf)
		die("calloc");
	for (long i = 0; i < n; i++)
		if (where[i] == cls)
			buf[m++] = lat[i];
	med = median(buf, m);
	free(buf);
	*count = m;
	return med;
}

/* The median round trip to a floor where both sides block (n round trips at most, secs). */
static double blocking_floor(const char *ep, uint32_t *seq, long n, double secs)
{
	double deadline = now_us() + secs * 1e6, med, *buf = calloc((size_t)n, sizeof(*buf));
	pid_t child;
	int f, got;
	long i;

	if (!buf)
		die("calloc");
	f = floor_start(&child, 0);

	for (i = 0; i < BLOCK; i++)
		timed(f, ep, (*seq)++, 0, &got, NULL);
	for (i = 0; i < n && now_us() < deadline; i++)
		buf[i] = timed(f, ep, (*seq)++, 0, &got, NULL);
	close(f);
	waitpid(child, NULL, 0);
	med = median(buf, i);
	free(buf);
	return med;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *ep = NULL, *trace = NULL;
	long count = 2000, batch = GRAFT_SOCKETS_MAX, window = GRAFT_SPIN_REQUEST_US;
	double secs = 1, *lat, *flat, *ratio, t1, deadline, sum = 0, block, apart, together, sw;
	long n_apart, n_together;
	signed char *where;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	long i, n, sockets = 0, batches = 0;
	uint32_t seq = 1;
	int opt, s, f, got;
	pid_t child;

	while ((opt = getopt(argc, argv, "s:e:n:b:d:w:t:")) != -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 'e': ep = optarg; break;
		case 'n': count = atol(optarg); break;
		case 'b': batch = atol(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'w': window = atol(optarg); break;
		case 't': trace = optarg; break;
		default: goto usage;
		}
	}
	if (!path || !ep || count < 1 || count > 1000000 || batch < 1 ||
	    batch > GRAFT_SOCKETS_MAX || secs <= 0 || secs > 60 || window < 0 || window > 100000 ||
	    strlen(path) >= sizeof(sun.sun_path))
		goto usage;
	memcpy(sun.sun_path, path, strlen(path));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die(path);
	lat = calloc((size_t)count, sizeof(*lat));
	flat = calloc((size_t)count, sizeof(*flat));
	ratio = calloc((size_t)count, sizeof(*ratio));
	where = calloc((size_t)count, sizeof(*where));
	if (!lat || !flat || !ratio || !where)
		die("calloc");
	f = floor_start(&child, (uint32_t)window);
	n = paired(s, f, ep, &seq, count, secs, lat, flat, ratio, where);
	close(f);
	waitpid(child, NULL, 0);
	if (trace)
		dump(trace, lat, flat, n);
	apart = median_where(lat, where, n, 0, &n_apart);
	together = median_where(lat, where, n, 1, &n_together);
	sw = switch_floor();
	for (i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	qsort(flat, (size_t)n, sizeof(*flat), cmp_double);
	qsort(ratio, (size_t)n, sizeof(*ratio), cmp_double);
	block = blocking_floor(ep, &seq, count / 4 + 1, secs / 4);
	t1 = 0;
	deadline = now_us() + secs * 1e6;
	while (sockets < count && now_us() < deadline) {
		t1 += timed(s, ep, seq++, (uint32_t)batch, &got, NULL);
		sockets += got;
		batches++;
	}
	printf("{\"single_n\": %ld, \"single_p50_us\": %.1f, \"single_p99_us\": %.1f, "
	       "\"single_mean_us\": %.1f, "
	       "\"floor_round_trip_us\": %.1f, \"single_over_floor\": %.2f, "
	       "\"floor_block_us\": %.1f, \"spin_window_us\": %ld, "
	       "\"batch\": %ld, \"batches\": %ld, \"batch_us_per_socket\": %.2f",
	       n, lat[n / 2], lat[n * 99 / 100], n ? sum / (double)n : 0.0, flat[n / 2], ratio[n / 2],
	       block, window, batch, batches,
	       sockets ? t1 / (double)sockets : 0.0);
	/* Where the broker ran: only what was seen (no CPU read: nothing). */
	if (n_apart + n_together > 0)
		printf(", \"together_share\": %.2f", (double)n_together / (double)(n_apart + n_together));
	if (n_apart > 0)
		printf(", \"single_p50_apart_us\": %.1f", apart);
	if (n_together > 0)
		printf(", \"single_p50_together_us\": %.1f", together);
	if (sw > 0)
		printf(", \"switch_floor_us\": %.1f", sw);
	printf("}\n");
	free(lat);
	free(flat);
	free(ratio);
	free(where);
	close(s);
	return 0;
usage:
	fprintf(stderr, "usage: brokerrt -s SOCKET -e ENDPOINT [-n COUNT] [-b BATCH] [-d SECONDS] "
			"[-w US] [-t FILE]\n");
	return 2;
}
