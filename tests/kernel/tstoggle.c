// SPDX-License-Identifier: GPL-2.0
/*
 * tstoggle — plain sockets only (no AF_GRAFT): does toggling receive
 * timestamps under loopback traffic crash the kernel by itself?
 *
 *   tstoggle SECS [TOGGLERS [PAIRS]]
 *
 * SO_TIMESTAMP* on a socket takes a reference on netstamp_needed_key, a
 * static branch read on every packet received (netif_rx, the IPv4/IPv6
 * input paths); the first reference and the last release patch the kernel's
 * code at each of those sites.  TOGGLERS threads (2) turn SO_TIMESTAMP,
 * SO_TIMESTAMPNS and SO_TIMESTAMPING (software receive stamps) on and off on
 * their own UDP socket, so the key goes 0 -> 1 -> 0 as fast as the kernel
 * lets it; PAIRS threads (2) meanwhile push TCP (IPv4 and IPv6) and UDP
 * traffic over loopback through those sites, connecting and closing as they
 * go.  Bounded by SECS.  Prints what it did; a crash is the kernel's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_TIMESTAMPING
#define SO_TIMESTAMPING 37
#endif

static time_t deadline;
static atomic_ulong toggles, tcp_conns, tcp_bytes, udp_dgrams, errors;

static int expired(void) { return time(NULL) >= deadline; }

static void *toggler(void *arg)
{
	static const int opts[] = { SO_TIMESTAMP, SO_TIMESTAMPNS, SO_TIMESTAMPING };
	unsigned long n = 0;
	int fd = -1;

	(void)arg;
	while (!expired()) {
		int opt = opts[n % 3];
		int on = opt == SO_TIMESTAMPING ?
			SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE : 1;
		int off = 0;

		if (fd < 0 && (fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0) {
			atomic_fetch_add(&errors, 1);
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, opt, &on, sizeof(on)) ||
		    setsockopt(fd, SOL_SOCKET, opt, &off, sizeof(off)))
			atomic_fetch_add(&errors, 1);
		/* Every 64th round the release comes from close() instead. */
		if (++n % 64 == 0) {
			setsockopt(fd, SOL_SOCKET, opt, &on, sizeof(on));
			close(fd);
			fd = -1;
		}
		atomic_fetch_add(&toggles, 1);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int listener(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	int one = 1, fd = socket(family, SOCK_STREAM, 0);

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET)
		((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
	*len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, *len) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)ss, len)) {
		perror("tstoggle: listener");
		exit(1);
	}
	return fd;
}

/* One TCP connection: connect, 16 round trips of 1 kB, close both ends. */
static void tcp_round(int lfd, struct sockaddr_storage *ss, socklen_t len)
{
	char buf[1024];
	int c, a, i;

	memset(buf, 'x', sizeof(buf));
	c = socket(ss->ss_family, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)ss, len) || (a = accept(lfd, NULL, NULL)) < 0) {
		atomic_fetch_add(&errors, 1);
		if (c >= 0)
			close(c);
		return;
	}
	for (i = 0; i < 16; i++) {
		if (send(c, buf, sizeof(buf), 0) != sizeof(buf) ||
		    recv(a, buf, sizeof(buf), MSG_WAITALL) != sizeof(buf) ||
		    send(a, buf, 64, 0) != 64 || recv(c, buf, 64, MSG_WAITALL) != 64) {
			atomic_fetch_add(&errors, 1);
			break;
		}
		atomic_fetch_add(&tcp_bytes, sizeof(buf) + 64);
	}
	close(c);
	close(a);
	atomic_fetch_add(&tcp_conns, 1);
}

static void udp_round(int u, struct sockaddr_storage *ss, socklen_t len)
{
	char buf[256];
	int i;

	memset(buf, 'u', sizeof(buf));
	for (i = 0; i < 16; i++) {
		if (sendto(u, buf, sizeof(buf), 0, (struct sockaddr *)ss, len) != sizeof(buf) ||
		    recv(u, buf, sizeof(buf), 0) != sizeof(buf)) {
			atomic_fetch_add(&errors, 1);
			return;
		}
		atomic_fetch_add(&udp_dgrams, 1);
	}
}

static void *traffic(void *arg)
{
	int family = (long)arg ? AF_INET6 : AF_INET;
	struct sockaddr_storage ss, us;
	socklen_t len, ulen;
	int lfd = listener(family, &ss, &len), u = socket(family, SOCK_DGRAM, 0);
	struct timeval tv = { .tv_sec = 1 };

	memcpy(&us, &ss, sizeof(ss));
	((struct sockaddr_in *)&us)->sin_port = 0;
	ulen = len;
	if (u < 0 || bind(u, (struct sockaddr *)&us, ulen) ||
	    getsockname(u, (struct sockaddr *)&us, &ulen)) {
		perror("tstoggle: udp");
		exit(1);
	}
	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (!expired()) {
		tcp_round(lfd, &ss, len);
		udp_round(u, &us, ulen);
	}
	close(lfd);
	close(u);
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 0;
	int ntog = argc > 2 ? atoi(argv[2]) : 2, npairs = argc > 3 ? atoi(argv[3]) : 2;
	pthread_t th[64];
	int i, n = 0;

	if (secs <= 0 || ntog < 0 || npairs < 0 || ntog + npairs > 64 || ntog + npairs == 0) {
		fprintf(stderr, "usage: tstoggle SECS [TOGGLERS [PAIRS]] (at most 64 threads)\n");
		return 2;
	}
	deadline = time(NULL) + secs;
	for (i = 0; i < ntog; i++)
		pthread_create(&th[n++], NULL, toggler, NULL);
	for (i = 0; i < npairs; i++)
		pthread_create(&th[n++], NULL, traffic, (void *)(long)(i % 2));
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("tstoggle: %d s, %d togglers, %d traffic threads: %lu timestamp on/off rounds, "
	       "%lu TCP connections (%lu bytes), %lu UDP datagrams, %lu errors\n",
	       secs, ntog, npairs, atomic_load(&toggles), atomic_load(&tcp_conns),
	       atomic_load(&tcp_bytes), atomic_load(&udp_dgrams), atomic_load(&errors));
	return 0;
}
