// SPDX-License-Identifier: MIT
//
// rr — a small request/response and connection-rate benchmark (TCP or
// UDP, IPv4 or IPv6: ADDR is either).
//
//   rr server -p PORT [-b ADDR] [-t SECS] [-S] [-u] [-C CPU]
//       Echo server: accepts connections and echoes every byte back (-u: one
//       UDP socket echoing every datagram to its sender).  One thread, epoll,
//       ordinary bind()/listen()/accept(), so the preload library can graft
//       it like any other server.  Exits after SECS (default 600) so a
//       forgotten server cannot outlive the benchmark.
//
//   rr rr -H ADDR -p PORT [-d SECS] [-s BYTES] [-S] [-u] [-C CPU]
//       One connection (TCP_NODELAY; -u: a connected UDP socket), SIZE-byte
//       request, SIZE-byte response, back to back for SECS.  Prints one JSON
//       line with the round-trip percentiles in microseconds.  A UDP
//       datagram lost on the way fails the run (after 10 s with -S; the
//       caller's timeout otherwise): loopback does not lose them.
//
//   -S  busy-poll: the client spins on a non-blocking socket, the server spins
//       in epoll_wait() while it has a client.  This takes the idle-wakeup
//       latency of the (virtual) CPUs out of the figure, leaving the network
//       path; without it the p50 mostly measures how fast a halted vCPU wakes.
//
//   -C CPU  run on that CPU only (sched_setaffinity). Two spinning peers that
//       the scheduler puts on one CPU take turns through sched_yield(): a UDP
//       round trip on loopback reads 20 µs there and 10 µs on two CPUs, for
//       the same path; pinning each peer to its own CPU takes that coin toss
//       out of a comparison.
//
//   rr crr -H ADDR -p PORT [-d SECS] [-c THREADS] [-G EP]
//       Short connections: connect, 1-byte request, 1-byte response, close
//       (with SO_LINGER 0, so no TIME_WAIT eats the ephemeral ports), in
//       THREADS threads for SECS.  Prints one JSON line with connections/s.
//       -G EP: through af_graft.ko itself, without libgraft: each socket is
//       an AF_GRAFT one bound to endpoint EP, made with the calls libgraft's
//       kernel backend makes (socket, GRAFT_NAME_TRANSPARENT, bind), so that
//       the module's own cost can be told from libgraft's.
//
// Every loop is bounded by the deadline; every error is fatal and reported on
// stderr with the call that failed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../kernel/uapi/af_graft.h"

#define MAX_SAMPLES (4u << 20)
#define MAX_THREADS 64
#define MAX_MSG 65536
#define WARMUP 100

static void die(const char *what)
{
	fprintf(stderr, "rr: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: rr server -p PORT [-b ADDR] [-t SECS] [-S] [-u] [-C CPU]\n"
			"       rr rr  -H ADDR -p PORT [-d SECS] [-s BYTES] [-S] [-u] [-C CPU]\n"
			"       rr crr -H ADDR -p PORT [-d SECS] [-c THREADS] [-G EP]\n");
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct opts {
	const char *host;
	const char *bind;
	int port;
	double secs;
	int size;
	int threads;
	int spin; /* busy-poll instead of sleeping in read()/epoll_wait() */
	int udp;
	int cpu; /* -C: the one CPU this process runs on; -1: any */
	const char *ep; /* -G: crr through af_graft onto this endpoint */
};

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;
};

static struct addr addr_of(const char *host, int port)
{
	struct addr a = { .len = 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = a.family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a.len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = a.family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a.len = sizeof(*sin6);
	} else {
		fprintf(stderr, "rr: %s is not an IPv4 or IPv6 address\n", host);
		exit(2);
	}
	return a;
}

static void full_write(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue; /* EAGAIN: busy-poll mode, send buffer full */
		if (n <= 0)
			die("write");
		buf += n;
		len -= (size_t)n;
	}
}

/* Returns 0 on success, -1 if the peer closed first.  On a non-blocking
 * socket it spins until the data is there (busy-poll mode), up to 10 s. */
static int full_read(int fd, char *buf, size_t len)
{
	uint64_t give_up = 0;
	while (len > 0) {
		ssize_t n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			uint64_t t = now_ns();
			if (!give_up)
				give_up = t + 10000000000u;
			else if (t > give_up) {
				errno = ETIMEDOUT;
				die("read");
			}
			sched_yield(); /* let a relay (socat) on the same CPU run */
			continue;
		}
		if (n < 0)
			die("read");
		if (n == 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- server --------------------------------------------------------------- */

/* UDP echo: every datagram back to its sender, until `end`. */
static int run_udp_server(int fd, const struct opts *o, uint64_t end)
{
	static char buf[MAX_MSG];
	uint64_t last = 0;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK");
	while (now_ns() < end) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (r < 0 && errno != EAGAIN && errno != EINTR)
			die("recvfrom");
		if (r >= 0) {
			sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
			last = now_ns();
			continue;
		}
		/*
		 * Spin 100 ms after the last datagram (-S), else sleep in poll. A
		 * client sends back to back, so a measurement never pauses that
		 * long; a longer spin outlived the measurement and took a CPU from
		 * the next path's server (a 1 s spin doubled the p50 of the two rows
		 * measured right after another UDP row).
		 */
		if (o->spin && now_ns() - last < 100000000u) {
			sched_yield();
			continue;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		poll(&pfd, 1, 200);
	}
	return 0;
}

static int run_server(const struct opts *o)
{
	struct addr sa = addr_of(o->bind, o->port);
	int one = 1;
	int lfd = socket(sa.family, o->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		die("setsockopt SO_REUSEADDR");
	if (bind(lfd, (struct sockaddr *)&sa.ss, sa.len) < 0)
		die("bind");
	fprintf(stderr, "rr: %s echo server on %s port %d\n", o->udp ? "UDP" : "TCP", o->bind, o->port);
	if (o->udp)
		return run_udp_server(lfd, o, now_ns() + (uint64_t)(o->secs * 1e9));
	if (listen(lfd, 4096) < 0)
		die("listen");
	/* Non-blocking, so the accept loop below drains the queue and stops. */
	if (fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl listen");

	static char buf[MAX_MSG];
	struct epoll_event evs[256];
	uint64_t end = now_ns() + (uint64_t)(o->secs * 1e9);
	int conns = 0;
	while (now_ns() < end) {
		/* Spin only while a client is connected: an idle server sleeps. */
		int n = epoll_wait(ep, evs, 256, o->spin && conns > 0 ? 0 : 200);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		if (n == 0 && o->spin && conns > 0)
			sched_yield();
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				for (int k = 0; k < 256; k++) {
					int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (c < 0)
						break; /* EAGAIN, or a connection reset before accept */
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0)
						die("epoll_ctl conn");
					conns++;
				}
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			/* EOF or reset: the client is done.  Small responses fit the
			 * send buffer; a short write means the client stopped reading,
			 * which only happens when it is gone. */
			if (r <= 0 || write(fd, buf, (size_t)r) != r) {
				close(fd);
				conns--;
			}
		}
	}
	return 0;
}

/* ---- request/response ------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double pct(const uint32_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i] / 1000.0;
}

/* -G: an AF_GRAFT stream socket bound to endpoint ep, its name the host's. */
static int graft_socket(const char *ep)
{
	struct sockaddr_gr sgr = { .sgr_family = AF_GRAFT };
	int one = 1, fd = socket(AF_GRAFT, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket(AF_GRAFT): is af_graft.ko loaded?");
	if (setsockopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, &one, sizeof(one)) < 0)
		die("setsockopt GRAFT_NAME_TRANSPARENT");
	strncpy(sgr.sgr_epname, ep, sizeof(sgr.sgr_epname) - 1);
	if (bind(fd, (struct sockaddr *)&sgr, sizeof(sgr)) < 0)
		die("bind to the endpoint (-G)");
	return fd;
}

static int connect_to(const struct addr *sa, int udp, const char *ep)
{
	int fd = ep ? graft_socket(ep) : socket(sa->family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	if (!udp && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("setsockopt TCP_NODELAY");
	if (connect(fd, (const struct sockaddr *)&sa->ss, sa->len) < 0)
		die("connect");
	return fd;
}

static int run_rr(const struct opts *o)
{
	struct addr sa = addr_of(o->host, o->port);
	uint32_t *lat = malloc(MAX_SAMPLES * sizeof(*lat));
	char *buf = calloc(1, (size_t)o->size);
	if (!lat || !buf)
		die("malloc");
	int fd = connect_to(&sa, o->udp, NULL);
	if (o->spin && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl O_NONBLOCK");
	/* Warm up (caches, the grafted path's first use) before the clock
	 * starts: WARMUP round trips, or one second on a machine that slow. */
	uint64_t warm_end = now_ns() + 1000000000u;
	for (int i = 0; i < WARMUP && now_ns() < warm_end; i++) {
		full_write(fd, buf, (size_t)o->size);
		if (full_read(fd, buf, (size_t)o->size) < 0) {
			fprintf(stderr, "rr: server closed the connection\n");
			return 1;
		}
	}
	uint64_t end = now_ns() + (uint64_t)(o->secs * 1e9);
	size_t n = 0;
	for (;;) {
		uint64_t t0 = now_ns();
		if (t0 >= end || n == MAX_SAMPLES)
			break;
		full_write(fd, buf, (size_t)o->size);
		if (full_read(fd, buf, (size_t)o->size) < 0) {
			fprintf(stderr, "rr: server closed the connection\n");
			return 1;
		}
		uint64_t d = now_ns() - t0;
		lat[n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	}
	close(fd);
	if (n < 10) {
		fprintf(stderr, "rr: only %zu round trips in %.1f s\n", n, o->secs);
		return 1;
	}
	qsort(lat, n, sizeof(*lat), cmp_u32);
	double mean = 0;
	for (size_t i = 0; i < n; i++)
		mean += lat[i];
	mean /= (double)n * 1000.0;
	printf("{\"n\": %zu, \"size\": %d, \"spin\": %d, \"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, "
	       "\"mean_us\": %.2f, \"max_us\": %.2f, \"cpu\": %d}\n",
	       n, o->size, o->spin, pct(lat, n, 0.50), pct(lat, n, 0.90), pct(lat, n, 0.99), mean, lat[n - 1] / 1000.0,
	       o->cpu);
	free(lat);
	free(buf);
	return 0;
}

/* ---- connection rate -------------------------------------------------------- */

struct crr_arg {
	struct addr sa;
	uint64_t end;
	unsigned long done;
	uint64_t setup_ns; /* time spent in socket()+connect() */
	const char *ep;	   /* -G */
};

static void *crr_thread(void *p)
{
	struct crr_arg *a = p;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char b = 'x';
	while (now_ns() < a->end) {
		uint64_t t0 = now_ns();
		int fd = connect_to(&a->sa, 0, a->ep);
		a->setup_ns += now_ns() - t0;
		full_write(fd, &b, 1);
		if (full_read(fd, &b, 1) < 0) {
			fprintf(stderr, "rr: server closed the connection early\n");
			exit(1);
		}
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
			die("setsockopt SO_LINGER");
		close(fd);
		a->done++;
	}
	return NULL;
}

static int run_crr(const struct opts *o)
{
	struct crr_arg args[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	uint64_t start = now_ns();
	for (int i = 0; i < o->threads; i++) {
		args[i] = (struct crr_arg){ .sa = addr_of(o->host, o->port),
					    .end = start + (uint64_t)(o->secs * 1e9),
					    .ep = o->ep };
		if (pthread_create(&th[i], NULL, crr_thread, &args[i]) != 0)
			die("pthread_create");
	}
	unsigned long total = 0;
	uint64_t setup = 0;
	for (int i = 0; i < o->threads; i++) {
		pthread_join(th[i], NULL);
		total += args[i].done;
		setup += args[i].setup_ns;
	}
	double el = (double)(now_ns() - start) / 1e9;
	printf("{\"connections\": %lu, \"threads\": %d, \"seconds\": %.3f, \"conn_per_s\": %.1f, "
	       "\"connect_us\": %.2f, \"cpu\": %d}\n",
	       total, o->threads, el, (double)total / el, total ? (double)setup / (double)total / 1000.0 : 0.0,
	       o->cpu);
	return 0;
}

/* -C: this process on one CPU only. */
static void pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu >= CPU_SETSIZE)
		usage();
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity (-C)");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *mode = argv[1];
	struct opts o = { .host = NULL, .bind = "0.0.0.0", .port = 0, .secs = 0, .size = 64, .threads = 1, .spin = 0,
			  .cpu = -1 };
	int c;
	optind = 2;
	while ((c = getopt(argc, argv, "H:b:p:d:t:s:c:SuC:G:")) != -1) {
		switch (c) {
		case 'H': o.host = optarg; break;
		case 'b': o.bind = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'd':
		case 't': o.secs = atof(optarg); break;
		case 's': o.size = atoi(optarg); break;
		case 'c': o.threads = atoi(optarg); break;
		case 'S': o.spin = 1; break;
		case 'u': o.udp = 1; break;
		case 'C': o.cpu = atoi(optarg); break;
		case 'G': o.ep = optarg; break;
		default: usage();
		}
	}
	if (o.port <= 0 || o.port > 65535 || o.size < 1 || o.size > MAX_MSG || o.threads < 1 ||
	    o.threads > MAX_THREADS || o.secs < 0 || o.secs > 3600)
		usage();
	if (o.ep && strcmp(mode, "crr")) {
		fprintf(stderr, "rr: -G is for crr only\n");
		return 2;
	}
	if (o.cpu >= 0)
		pin_to(o.cpu);
	if (!strcmp(mode, "server")) {
		if (o.secs == 0)
			o.secs = 600;
		return run_server(&o);
	}
	if (!o.host)
		usage();
	if (o.secs == 0)
		o.secs = 1;
	if (!strcmp(mode, "rr"))
		return run_rr(&o);
	if (!strcmp(mode, "crr"))
		return run_crr(&o);
	usage();
	return 2;
}
