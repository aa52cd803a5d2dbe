// SPDX-License-Identifier: GPL-2.0
/*
 * graftsock — small AF_GRAFT programs for the in-VM functional test.
 *
 *   graftsock tcp-server EP COUNT        bind EP, listen, echo COUNT connections
 *   graftsock tcp-client EP|- ADDR PORT MSG
 *                                        (- = no bind: the default endpoint)
 *   graftsock tcp-refused EP ADDR PORT   non-blocking connect to a closed port:
 *                                        poll + SO_ERROR must say ECONNREFUSED
 *   graftsock udp-server EP              answer one datagram with "re:" + data
 *   graftsock udp-client EP ADDR PORT MSG
 *   graftsock port-hint EP PORT          dynamic EP + GRAFT_PORT_HINT = PORT
 *   graftsock bind-fail EP ERRNO         bind must fail with ERRNO (a number)
 *   graftsock hold EP                    bind, listen, print "held", sleep
 *   graftsock protocols                  only TCP and UDP (or 0) may be asked for
 *   graftsock ioctls EP IFNAME           through two UDP sockets bound to the
 *                                        dynamic EP: FIONREAD, SIOCOUTQ and
 *                                        SIOCGSTAMP reach the host socket;
 *                                        SIOCSIFFLAGS (IFNAME down) is refused
 *   graftsock unix-connect EP EPPATH ADDR ERRNO
 *                                        bind the unix EP (whose path EPPATH
 *                                        is removed first), connect to ADDR (a
 *                                        path, or @NAME: abstract), want ERRNO
 *                                        (0: connected); the same for sendto
 *                                        to ADDR + "d" on a datagram socket
 *   graftsock reuseport EP ERRNO [N]     N (1) sockets with SO_REUSEPORT bind
 *                                        EP and listen; want ERRNO (0: all do)
 *   graftsock reuseport-udp EP HINT ERRNO
 *                                        a UDP socket with SO_REUSEPORT (and
 *                                        GRAFT_PORT_HINT HINT unless 0) binds
 *                                        EP; want ERRNO (0: bound, and the
 *                                        option reads back 1)
 *   graftsock port-later EP ADDR PORT    a stream socket bound to the dynamic
 *                                        EP reserves no port (the host socket
 *                                        shows port 0) until connect() to
 *                                        ADDR:PORT picks one
 *   graftsock linger-close EP ADDR PORT L
 *                                        a stream socket bound to EP connects
 *                                        to ADDR:PORT (an echo server), sends
 *                                        and reads back one byte, sets
 *                                        SO_LINGER {1, 0} if L is 1, closes;
 *                                        prints "host port N"
 *   graftsock v6only EP VAL              IPV6_V6ONLY VAL before bind, bind EP
 *                                        (ipv6), listen: it reads back VAL;
 *                                        "ready", then hold the socket 30 s
 *   graftsock v6only-refused EP          IPV6_V6ONLY 1 then bind EP (ipv4):
 *                                        EADDRNOTAVAIL; with 0 it binds
 *
 * SO_REUSEPORT is set with setsockopt(SOL_SOCKET), or, where the kernel's
 * socket layer refuses it on AF_GRAFT (EOPNOTSUPP, before 6.2), with
 * SOL_GRAFT GRAFT_REUSEPORT.
 *
 * Servers print "ready" once listening/bound.  Every check prints a line and
 * failures exit 1.  All waits are bounded (SO_RCVTIMEO / poll timeouts).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "uapi/af_graft.h"

static void fail(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	fprintf(stderr, "graftsock: FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (errno %d: %s)\n", e, strerror(e));
	va_end(ap);
	exit(1);
}

static void timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		fail("setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)");
}

static int graft_socket(int type)
{
	int fd = socket(AF_GRAFT, type, 0);

	if (fd < 0)
		fail("socket(AF_GRAFT, %d)", type);
	return fd;
}

static int graft_bind(int fd, const char *ep)
{
	struct sockaddr_gr sgr;

	memset(&sgr, 0, sizeof(sgr));
	sgr.sgr_family = AF_GRAFT;
	strncpy(sgr.sgr_epname, ep, sizeof(sgr.sgr_epname) - 1);
	return bind(fd, (struct sockaddr *)&sgr, sizeof(sgr));
}

static socklen_t parse_addr(const char *host, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(atoi(port));
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(atoi(port));
		return sizeof(*sin6);
	}
	fprintf(stderr, "graftsock: bad address %s\n", host);
	exit(2);
}

static const char *fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
		snprintf(buf, n, "inet %s:%d", a, ntohs(((struct sockaddr_in *)ss)->sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
		snprintf(buf, n, "inet6 [%s]:%d", a, ntohs(((struct sockaddr_in6 *)ss)->sin6_port));
		break;
	case AF_UNIX:
		snprintf(buf, n, "unix %s", ((struct sockaddr_un *)ss)->sun_path);
		break;
	case AF_GRAFT:
		snprintf(buf, n, "graft %s", ((struct sockaddr_gr *)ss)->sgr_epname);
		break;
	default:
		snprintf(buf, n, "family %d", ss->ss_family);
	}
	return buf;
}

/* getsockname() gives the endpoint, or the host address when transparent. */
static void check_names(int fd, const char *ep)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char buf[160];
	int one = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("getsockname");
	if (ss.ss_family != AF_GRAFT || (ep && strcmp(((struct sockaddr_gr *)&ss)->sgr_epname, ep)))
		fail("getsockname gave %s, want graft %s", fmt_addr(&ss, buf, sizeof(buf)), ep);
	printf("getsockname: %s\n", fmt_addr(&ss, buf, sizeof(buf)));
	if (setsockopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, &one, sizeof(one)))
		fail("setsockopt(GRAFT_NAME_TRANSPARENT)");
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("getsockname (transparent)");
	if (ss.ss_family == AF_GRAFT)
		fail("transparent getsockname still gives AF_GRAFT");
	printf("getsockname (transparent): %s\n", fmt_addr(&ss, buf, sizeof(buf)));
	one = 0;
	setsockopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, &one, sizeof(one));
}

static int tcp_server(const char *ep, int count)
{
	int fd = graft_socket(SOCK_STREAM), one = 1, i;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		fail("setsockopt(SO_REUSEADDR) before bind");
	if (graft_bind(fd, ep))
		fail("bind(%s)", ep);
	if (listen(fd, 16))
		fail("listen");
	check_names(fd, ep);
	printf("ready\n");
	fflush(stdout);

	for (i = 0; i < count; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		char buf[4096], pb[160];
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int c;

		if (poll(&p, 1, 60000) != 1)
			fail("poll on listening socket (no connection in 60s)");
		c = accept(fd, (struct sockaddr *)&peer, &plen);
		if (c < 0)
			fail("accept");
		printf("accepted from %s\n", fmt_addr(&peer, pb, sizeof(pb)));
		check_names(c, ep);
		timeouts(c, 20000);
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (write(c, buf, n) != n)
				fail("echo write");
		if (n < 0)
			fail("echo read");
		close(c);
	}
	close(fd);
	return 0;
}

static int tcp_client(const char *ep, const char *host, const char *port, const char *msg)
{
	int fd = graft_socket(SOCK_STREAM), one = 1, val = 0;
	struct sockaddr_storage ss, peer;
	socklen_t len = parse_addr(host, port, &ss), plen = sizeof(peer);
	char buf[4096], pb[160];
	size_t want = strlen(msg), got = 0;
	struct timeval t0, t1;
	ssize_t n;

	/* Stored before bind, replayed on the host socket. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		fail("setsockopt(TCP_NODELAY) before bind");
	if (strcmp(ep, "-") && graft_bind(fd, ep))
		fail("bind(%s)", ep);
	if (connect(fd, (struct sockaddr *)&ss, len))
		fail("connect(%s:%s)", host, port);
	len = sizeof(val);
	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &val, &len) || val != 1)
		fail("TCP_NODELAY not replayed on the host socket (%d)", val);
	if (getpeername(fd, (struct sockaddr *)&peer, &plen))
		fail("getpeername");
	printf("connected to %s\n", fmt_addr(&peer, pb, sizeof(pb)));
	check_names(fd, strcmp(ep, "-") ? ep : NULL);

	timeouts(fd, 10000);
	if (write(fd, msg, want) != (ssize_t)want)
		fail("write");
	while (got < want && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
	if (strcmp(buf, msg))
		fail("echo mismatch: got '%s'", buf);
	printf("echo ok: %s\n", buf);

	/* SO_RCVTIMEO set on the graft socket governs the host's recv. */
	timeouts(fd, 300);
	gettimeofday(&t0, NULL);
	n = read(fd, buf, sizeof(buf));
	gettimeofday(&t1, NULL);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	if (n >= 0 || errno != EAGAIN || ms < 200 || ms > 5000)
		fail("idle read: n=%zd after %ld ms, want EAGAIN after ~300 ms", n, ms);
	printf("SO_RCVTIMEO ok (%ld ms)\n", ms);
	if (shutdown(fd, SHUT_WR))
		fail("shutdown");
	close(fd);
	return 0;
}

static int tcp_refused(const char *ep, const char *host, const char *port)
{
	int fd = socket(AF_GRAFT, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(host, port, &ss);
	struct pollfd p;

	if (fd < 0)
		fail("socket");
	if (graft_bind(fd, ep))
		fail("bind(%s)", ep);
	if (!connect(fd, (struct sockaddr *)&ss, len))
		fail("connect to a closed port succeeded");
	if (errno != EINPROGRESS && errno != ECONNREFUSED)
		fail("connect: want EINPROGRESS");
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, 5000) != 1)
		fail("poll after non-blocking connect");
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		fail("getsockopt(SO_ERROR)");
	if (err != ECONNREFUSED)
		fail("SO_ERROR = %d, want ECONNREFUSED", err);
	printf("non-blocking connect refused, SO_ERROR ok\n");
	close(fd);
	return 0;
}

static int udp_server(const char *ep)
{
	int fd = graft_socket(SOCK_DGRAM);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	char buf[2048], out[2100], pb[160];
	ssize_t n;

	if (graft_bind(fd, ep))
		fail("bind(%s)", ep);
	check_names(fd, ep);
	timeouts(fd, 30000);
	printf("ready\n");
	fflush(stdout);
	n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&peer, &plen);
	if (n < 0)
		fail("recvfrom");
	buf[n] = 0;
	printf("udp from %s: %s\n", fmt_addr(&peer, pb, sizeof(pb)), buf);
	n = snprintf(out, sizeof(out), "re:%s", buf);
	if (sendto(fd, out, n, 0, (struct sockaddr *)&peer, plen) != n)
		fail("sendto");
	close(fd);
	return 0;
}

static int udp_client(const char *ep, const char *host, const char *port, const char *msg)
{
	int fd = graft_socket(SOCK_DGRAM);
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(host, port, &ss);
	char buf[2048], want[2100];
	ssize_t n;

	if (strcmp(ep, "-") && graft_bind(fd, ep))
		fail("bind(%s)", ep);
	timeouts(fd, 10000);
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&ss, len) != (ssize_t)strlen(msg))
		fail("sendto");
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		fail("recv");
	buf[n] = 0;
	snprintf(want, sizeof(want), "re:%s", msg);
	if (strcmp(buf, want))
		fail("udp reply '%s', want '%s'", buf, want);
	printf("udp reply ok: %s\n", buf);
	close(fd);
	return 0;
}

static int port_hint(const char *ep, int port)
{
	int fd = graft_socket(SOCK_STREAM), one = 1, got = -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(got);

	if (setsockopt(fd, SOL_GRAFT, GRAFT_PORT_HINT, &port, sizeof(port)))
		fail("setsockopt(GRAFT_PORT_HINT)");
	if (getsockopt(fd, SOL_GRAFT, GRAFT_PORT_HINT, &got, &len) || got != port)
		fail("getsockopt(GRAFT_PORT_HINT) = %d", got);
	if (graft_bind(fd, ep))
		fail("bind(%s)", ep);
	if (setsockopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, &one, sizeof(one)))
		fail("setsockopt(GRAFT_NAME_TRANSPARENT)");
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("getsockname");
	if ((ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&ss)->sin_port) != port) ||
	    (ss.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) != port))
		fail("host socket not bound to the hinted port %d", port);
	printf("port hint ok: %d\n", port);
	close(fd);
	return 0;
}

/* socket(AF_GRAFT, type, protocol) must give @want (0: a socket). */
static int try_protocol(int type, int protocol, int want)
{
	int fd = socket(AF_GRAFT, type, protocol), e = errno;

	if (fd >= 0)
		close(fd);
	if ((want == 0) != (fd >= 0) || (fd < 0 && e != want)) {
		errno = e;
		fail("socket(AF_GRAFT, %d, %d): want %s", type, protocol, want ? strerror(want) : "a socket");
	}
	printf("socket(AF_GRAFT, %d, %d): %s\n", type, protocol, fd >= 0 ? "ok" : strerror(e));
	return 0;
}

static int protocols(void)
{
	try_protocol(SOCK_STREAM, 0, 0);
	try_protocol(SOCK_STREAM, IPPROTO_TCP, 0);
	try_protocol(SOCK_DGRAM, 0, 0);
	try_protocol(SOCK_DGRAM, IPPROTO_UDP, 0);
	try_protocol(SOCK_STREAM, IPPROTO_SCTP, EPROTONOSUPPORT);
	try_protocol(SOCK_STREAM, 262 /* IPPROTO_MPTCP */, EPROTONOSUPPORT);
	try_protocol(SOCK_STREAM, IPPROTO_UDP, EPROTONOSUPPORT);
	try_protocol(SOCK_DGRAM, IPPROTO_UDPLITE, EPROTONOSUPPORT);
	try_protocol(SOCK_DGRAM, IPPROTO_TCP, EPROTONOSUPPORT);
	try_protocol(SOCK_SEQPACKET, 0, ESOCKTNOSUPPORT);
	try_protocol(SOCK_RAW, IPPROTO_ICMP, ESOCKTNOSUPPORT);
	return 0;
}

/* A UDP graft socket bound to @ep, and its host address. */
static int udp_bound(const char *ep, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = graft_socket(SOCK_DGRAM), one = 1;

	if (graft_bind(fd, ep) ||
	    setsockopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, &one, sizeof(one)))
		fail("bind(%s)", ep);
	*len = sizeof(*ss);
	if (getsockname(fd, (struct sockaddr *)ss, len))
		fail("getsockname");
	return fd;
}

static int ioctls(const char *ep, const char *ifname)
{
	struct sockaddr_storage ss;
	struct timeval tv;
	struct ifreq ifr;
	socklen_t len;
	int a, b, n = -1, q = -1, r;

	b = udp_bound(ep, &ss, &len);
	a = udp_bound(ep, &(struct sockaddr_storage){ 0 }, &(socklen_t){ 0 });
	timeouts(b, 5000);
	if (sendto(a, "12345", 5, 0, (struct sockaddr *)&ss, len) != 5)
		fail("sendto");
	for (int i = 0; i < 50 && n <= 0; i++, usleep(100000))
		if (ioctl(b, FIONREAD, &n))
			fail("ioctl(FIONREAD)");
	if (n != 5)
		fail("FIONREAD = %d, want 5", n);
	if (ioctl(a, SIOCOUTQ, &q) || q != 0)
		fail("SIOCOUTQ = %d, want 0", q);
	if (recv(b, &(char[8]){ 0 }, 8, 0) != 5 || ioctl(b, SIOCGSTAMP, &tv) || !tv.tv_sec)
		fail("SIOCGSTAMP after a datagram");
	printf("FIONREAD 5, SIOCOUTQ 0, SIOCGSTAMP %ld: forwarded\n", (long)tv.tv_sec);

	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name) - 1);
	ifr.ifr_flags = 0;	/* down */
	r = ioctl(b, SIOCSIFFLAGS, &ifr);
	if (!r)
		fail("SIOCSIFFLAGS %s down through a graft socket succeeded", ifname);
	printf("SIOCSIFFLAGS %s: refused (%s)\n", ifname, strerror(errno));
	close(a);
	close(b);
	return 0;
}

static socklen_t unix_addr(const char *a, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (a[0] == '@') {	/* abstract: sun_path[0] stays 0 */
		strncpy(sun->sun_path + 1, a + 1, sizeof(sun->sun_path) - 2);
		return offsetof(struct sockaddr_un, sun_path) + strlen(a);
	}
	strncpy(sun->sun_path, a, sizeof(sun->sun_path) - 1);
	return sizeof(*sun);
}

static void want_errno(const char *what, int r, int want)
{
	if (want ? (r == 0 || errno != want) : r != 0)
		fail("%s: want %s", what, want ? strerror(want) : "success");
	printf("%s: %s\n", what, r ? strerror(errno) : "ok");
}

static int unix_connect(const char *ep, const char *eppath, const char *addr, int want)
{
	struct sockaddr_un sun;
	socklen_t len = unix_addr(addr, &sun);
	char daddr[112];
	int fd = graft_socket(SOCK_STREAM);

	unlink(eppath);
	if (graft_bind(fd, ep))
		fail("bind(%s)", ep);
	want_errno("connect", connect(fd, (struct sockaddr *)&sun, len), want);
	close(fd);
	snprintf(daddr, sizeof(daddr), "%sd", addr);
	len = unix_addr(daddr, &sun);
	unlink(eppath);
	fd = graft_socket(SOCK_DGRAM);
	if (graft_bind(fd, ep))
		fail("bind(%s) for a datagram socket", ep);
	want_errno("sendto", sendto(fd, "x", 1, 0, (struct sockaddr *)&sun, len) == 1 ? 0 : -1,
		   want);
	close(fd);
	return 0;
}

static int set_reuseport(int fd)
{
	int one = 1, r = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));

	if (r && errno == EOPNOTSUPP)
		r = setsockopt(fd, SOL_GRAFT, GRAFT_REUSEPORT, &one, sizeof(one));
	return r;
}

static int reuseport(const char *ep, int want, int count)
{
	int fds[8], r = 0, i;

	for (i = 0; i < count && i < 8; i++) {
		fds[i] = graft_socket(SOCK_STREAM);
		r = set_reuseport(fds[i]);
		if (!r)
			r = graft_bind(fds[i], ep);
		if (!r)
			r = listen(fds[i], 1);
		if (r)
			break;
	}
	want_errno("SO_REUSEPORT, bind, listen", r, want);
	if (i < count)
		i++;
	while (--i >= 0)
		close(fds[i]);
	return 0;
}

static int reuseport_udp(const char *ep, int hint, int want)
{
	int fd = graft_socket(SOCK_DGRAM), r, got = 0;
	socklen_t len = sizeof(got);

	if (hint && setsockopt(fd, SOL_GRAFT, GRAFT_PORT_HINT, &hint, sizeof(hint)))
		fail("setsockopt(GRAFT_PORT_HINT)");
	if (set_reuseport(fd))
		fail("SO_REUSEPORT before bind");
	r = graft_bind(fd, ep);
	want_errno("UDP SO_REUSEPORT, bind", r, want);
	if (!r && (getsockopt(fd, SOL_GRAFT, GRAFT_REUSEPORT, &got, &len) || got != 1))
		fail("GRAFT_REUSEPORT reads %d once bound, want 1", got);
	close(fd);
	return 0;
}

/* The host socket's port (GRAFT_NAME_TRANSPARENT getsockname). */
static int host_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1;

	if (setsockopt(fd, SOL_GRAFT, GRAFT_NAME_TRANSPARENT, &one, sizeof(one)) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len))
		fail("transparent getsockname");
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int port_later(const char *ep, const char *host, const char *port)
{
	int fd = graft_socket(SOCK_STREAM), before, after;
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(host, port, &ss);

	if (graft_bind(fd, ep))
		fail("bind(%s)", ep);
	before = host_port(fd);
	if (connect(fd, (struct sockaddr *)&ss, len))
		fail("connect(%s:%s)", host, port);
	after = host_port(fd);
	if (before != 0 || after == 0)
		fail("host port %d after bind, %d after connect: want 0, then one", before, after);
	printf("host port 0 after bind, %d after connect\n", after);
	close(fd);
	return 0;
}

/* SO_LINGER set once connected, as a client about to reset would. */
static int linger_close(const char *ep, const char *host, const char *port,
			int reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int fd = graft_socket(SOCK_STREAM), hport;
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(host, port, &ss);
	char b = 'l';

	if (graft_bind(fd, ep))
		fail("bind(%s)", ep);
	if (connect(fd, (struct sockaddr *)&ss, len))
		fail("connect(%s:%s)", host, port);
	if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1)
		fail("one byte each way");
	hport = host_port(fd);
	if (reset && setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		fail("SO_LINGER");
	close(fd);
	printf("host port %d\n", hport);
	return 0;
}

static int set_v6only(int fd, int val)
{
	return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &val, sizeof(val));
}

static int v6only(const char *ep, int val)
{
	int fd = graft_socket(SOCK_STREAM), got = -1;
	socklen_t len = sizeof(got);

	if (set_v6only(fd, val) || graft_bind(fd, ep) || listen(fd, 4))
		fail("IPV6_V6ONLY %d, bind(%s), listen", val, ep);
	if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &got, &len) || got != val)
		fail("IPV6_V6ONLY reads %d once bound, want %d", got, val);
	printf("IPV6_V6ONLY %d\nready\n", val);
	fflush(stdout);
	sleep(30);
	return 0;
}

static int v6only_refused(const char *ep)
{
	int fd = graft_socket(SOCK_STREAM);

	if (set_v6only(fd, 1))
		fail("IPV6_V6ONLY 1 before bind");
	want_errno("IPV6_V6ONLY 1, bind to an ipv4 endpoint", graft_bind(fd, ep), EADDRNOTAVAIL);
	close(fd);
	fd = graft_socket(SOCK_STREAM);
	if (set_v6only(fd, 1) || set_v6only(fd, 0))
		fail("IPV6_V6ONLY 1 then 0 before bind");
	want_errno("IPV6_V6ONLY 0, bind to an ipv4 endpoint", graft_bind(fd, ep), 0);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "tcp-server"))
		return tcp_server(argv[2], atoi(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "tcp-client"))
		return tcp_client(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 5 && !strcmp(argv[1], "tcp-refused"))
		return tcp_refused(argv[2], argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "udp-server"))
		return udp_server(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "udp-client"))
		return udp_client(argv[2], argv[3], argv[4], argv[5]);
	if (argc == 4 && !strcmp(argv[1], "port-hint"))
		return port_hint(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "bind-fail")) {
		int fd = graft_socket(SOCK_STREAM);

		if (!graft_bind(fd, argv[2]))
			fail("bind(%s) succeeded, want errno %s", argv[2], argv[3]);
		if (errno != atoi(argv[3]))
			fail("bind(%s): want errno %s", argv[2], argv[3]);
		printf("bind(%s) refused: %s\n", argv[2], strerror(errno));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "hold")) {
		int fd = graft_socket(SOCK_STREAM);

		if (graft_bind(fd, argv[2]) || listen(fd, 1))
			fail("bind/listen(%s)", argv[2]);
		printf("held\n");
		fflush(stdout);
		sleep(600);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "protocols"))
		return protocols();
	if (argc == 4 && !strcmp(argv[1], "ioctls"))
		return ioctls(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[1], "unix-connect"))
		return unix_connect(argv[2], argv[3], argv[4], atoi(argv[5]));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "reuseport"))
		return reuseport(argv[2], atoi(argv[3]), argc == 5 ? atoi(argv[4]) : 1);
	if (argc == 5 && !strcmp(argv[1], "reuseport-udp"))
		return reuseport_udp(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "port-later"))
		return port_later(argv[2], argv[3], argv[4]);
	if (argc == 6 && !strcmp(argv[1], "linger-close"))
		return linger_close(argv[2], argv[3], argv[4], atoi(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "v6only"))
		return v6only(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "v6only-refused"))
		return v6only_refused(argv[2]);
	fprintf(stderr, "usage: see the comment at the top of graftsock.c\n");
	return 2;
}
