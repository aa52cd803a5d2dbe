/* SPDX-License-Identifier: MIT */
/*
 * fake_broker — a stand-in for `graft daemon`, for the preload tests only.
 * It speaks GRAFT_OP_SOCKET (preload/graft_proto.h) for a few hard-coded
 * endpoints, creating the sockets in its own network namespace:
 *
 *   ep-test   ipv4 127.0.0.1 port PORT        (fixed)
 *   ep-test2  ipv4 127.0.0.1 port PORT+1      (fixed, for IPv6 apps)
 *   ep-test6  ipv6 ::1       port PORT+2      (fixed)
 *   ep-dual4  ipv4 127.0.0.1 port PORT+3      (fixed, dual-stack tests)
 *   ep-dual6  ipv6 ::1       port PORT+4      (fixed, dual-stack tests)
 *   ep-out    ipv4 127.0.0.2 port dynamic
 *   ep-out2   ipv4 127.0.0.4 port dynamic
 *   ep-out6   ipv6 ::1       port dynamic
 *   ep-unix   unix UNIXPATH
 *
 * Usage: fake_broker SOCKET PORT UNIXPATH LOGFILE
 * Every GRAFT_OP_SOCKET request appends one line to LOGFILE:
 *   "ep=NAME family=F type=T port=P opts=L/N,L/N status=S"
 * and every GRAFT_OP_SOCKETS request (dynamic endpoints only):
 *   "batch ep=NAME count=N sent=M status=S"
 * FAKE_BROKER_DELAY_MS in the environment delays every reply (to widen
 * races in the tests).
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "graft_proto.h"

#define MAX_CLIENTS 4096

static unsigned int base_port, delay_ms;
static const char *unix_path;
static FILE *logf;

struct ep {
	const char *name;
	int family; /* AF_INET, AF_INET6, AF_UNIX */
	const char *addr;
	int port_off; /* -1: dynamic */
};

static const struct ep eps[] = {
	{ "ep-test", AF_INET, "127.0.0.1", 0 },
	{ "ep-test2", AF_INET, "127.0.0.1", 1 },
	{ "ep-test6", AF_INET6, "::1", 2 },
	{ "ep-dual4", AF_INET, "127.0.0.1", 3 },
	{ "ep-dual6", AF_INET6, "::1", 4 },
	{ "ep-out", AF_INET, "127.0.0.2", -1 },
	{ "ep-out2", AF_INET, "127.0.0.4", -1 },
	{ "ep-out6", AF_INET6, "::1", -1 },
	{ "ep-unix", AF_UNIX, NULL, 0 },
};

static socklen_t ep_addr(const struct ep *e, unsigned int port,
			 struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;
	struct sockaddr_un *un = (void *)ss;
	bool v4 = e->family == AF_INET;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)e->family;
	if (e->family == AF_UNIX) {
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", unix_path);
		return sizeof(*un);
	}
	*(v4 ? &in->sin_port : &in6->sin6_port) = htons((uint16_t)port);
	inet_pton(e->family, e->addr,
		  v4 ? (void *)&in->sin_addr : (void *)&in6->sin6_addr);
	return v4 ? sizeof(*in) : sizeof(*in6);
}

/* Build the socket for a request; returns fd or -1 with resp filled. */
static int make_socket(const struct graft_sock_req *rq,
		       const struct graft_sockopt *opts,
		       struct graft_sock_resp *rp)
{
	const struct ep *e = NULL;
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned int port;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(eps) / sizeof(eps[0]); i++)
		if (!strncmp(eps[i].name, rq->ep, GRAFT_EPNAME_MAX))
			e = &eps[i];
	if (!e) {
		rp->status = EADDRNOTAVAIL;
		snprintf(rp->msg, sizeof(rp->msg),
			 "no endpoint \"%.15s\" in this network namespace",
			 rq->ep);
		return -1;
	}
	fd = socket(e->family, rq->type | SOCK_CLOEXEC,
		    e->family == AF_UNIX ? 0 : rq->protocol);
	if (fd < 0)
		goto fail;
	for (i = 0; i < rq->nopts; i++) {
		if (setsockopt(fd, opts[i].level, opts[i].name, opts[i].val,
			       opts[i].len) < 0 &&
		    !(e->family == AF_UNIX && opts[i].level != SOL_SOCKET) &&
		    errno != ENOPROTOOPT)
			goto fail;
	}
	port = e->port_off < 0 ? rq->port : base_port + (unsigned)e->port_off;
	/* An egress graft (dynamic endpoint, no port asked): let connect()
	 * pick the port, as a real broker should, or bind() has to search
	 * the whole port range past every TIME_WAIT socket. */
	if (port == 0 && e->family != AF_UNIX) {
		int one = 1;

		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
	}
	len = ep_addr(e, port, &ss);
	if (e->family == AF_UNIX)
		unlink(unix_path);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	rp->family = e->family;
	len = sizeof(rp->addr);
	getsockname(fd, (struct sockaddr *)rp->addr, &len);
	rp->addrlen = len;
	return fd;
fail:
	rp->status = errno;
	snprintf(rp->msg, sizeof(rp->msg), "endpoint \"%s\": %s", e->name,
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* GRAFT_OP_SOCKETS: up to count sockets of a dynamic endpoint, port 0. */
static void handle_batch(int c, const struct graft_socks_req *sr, size_t n)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(GRAFT_SOCKETS_MAX * sizeof(int))];
	} ctl;
	struct graft_sock_resp rp;
	struct iovec iov = { .iov_base = &rp, .iov_len = sizeof(rp) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[GRAFT_SOCKETS_MAX], got = 0;
	struct graft_sock_req rq = sr->req;
	const struct ep *e = NULL;

	memset(&rp, 0, sizeof(rp));
	rp.hdr = sr->req.hdr;
	rp.hdr.len = sizeof(rp);
	rq.ep[GRAFT_EPNAME_MAX - 1] = '\0';
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++)
		if (!strcmp(eps[i].name, rq.ep))
			e = &eps[i];
	if (n != sizeof(*sr) || sr->count < 1 || sr->count > GRAFT_SOCKETS_MAX ||
	    !e || e->port_off >= 0 || e->family == AF_UNIX || rq.port ||
	    rq.type != SOCK_STREAM) {
		rp.status = EINVAL;
		snprintf(rp.msg, sizeof(rp.msg), "no batches for this request");
	}
	while (!rp.status && got < (int)sr->count) {
		int fd = make_socket(&rq, NULL, &rp);

		if (fd < 0)
			break;
		fds[got++] = fd;
	}
	if (got) {
		rp.status = 0;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(got * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(got * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, got * sizeof(int));
	}
	fprintf(logf, "batch ep=%s count=%u sent=%d status=%d\n", rq.ep,
		sr->count, got, rp.status);
	fflush(logf);
	if (delay_ms)
		usleep(delay_ms * 1000);
	/* EPIPE: the client went away (a test that stops mid-refill). */
	if (sendmsg(c, &mh, MSG_NOSIGNAL) < 0 && errno != EPIPE)
		perror("fake_broker: sendmsg");
	for (int i = 0; i < got; i++)
		close(fds[i]);
}

static void handle(int c)
{
	union {
		struct graft_sock_req rq;
		uint8_t raw[GRAFT_PACKET_MAX];
	} u;
	struct graft_sock_resp rp;
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &rp, .iov_len = sizeof(rp) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	const struct graft_sockopt *opts;
	ssize_t n;
	int fd = -1;
	uint16_t i;

	n = recv(c, &u, sizeof(u), 0);
	if (n < (ssize_t)sizeof(struct graft_hdr))
		return;
	if (u.rq.hdr.magic == GRAFT_PROTO_MAGIC &&
	    u.rq.hdr.op == GRAFT_OP_SOCKETS) {
		handle_batch(c, (const void *)&u, (size_t)n);
		return;
	}
	memset(&rp, 0, sizeof(rp));
	rp.hdr = u.rq.hdr;
	rp.hdr.len = sizeof(rp);
	opts = (const void *)(u.raw + sizeof(u.rq));
	if (u.rq.hdr.magic != GRAFT_PROTO_MAGIC ||
	    u.rq.hdr.version != GRAFT_PROTO_VERSION ||
	    u.rq.hdr.op != GRAFT_OP_SOCKET || n < (ssize_t)sizeof(u.rq) ||
	    u.rq.nopts > GRAFT_SOCKOPT_MAX ||
	    (size_t)n != sizeof(u.rq) + u.rq.nopts * sizeof(*opts) ||
	    u.rq.hdr.len != (uint32_t)n) {
		rp.status = EPROTO;
		snprintf(rp.msg, sizeof(rp.msg), "malformed request");
	} else {
		u.rq.ep[GRAFT_EPNAME_MAX - 1] = '\0';
		fd = make_socket(&u.rq, opts, &rp);
		fprintf(logf, "ep=%s family=%d type=%d port=%u opts=", u.rq.ep,
			u.rq.family, u.rq.type, u.rq.port);
		for (i = 0; i < u.rq.nopts; i++)
			fprintf(logf, "%s%d/%d", i ? "," : "", opts[i].level,
				opts[i].name);
		fprintf(logf, " status=%d\n", rp.status);
		fflush(logf);
	}
	if (delay_ms)
		usleep(delay_ms * 1000);
	if (fd >= 0) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	/* EPIPE: the client went away (a test that stops mid-refill). */
	if (sendmsg(c, &mh, MSG_NOSIGNAL) < 0 && errno != EPIPE)
		perror("fake_broker: sendmsg");
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	static struct pollfd pfd[MAX_CLIENTS + 1];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int ls, nfds = 1, i;

	if (argc != 5) {
		fprintf(stderr, "usage: fake_broker SOCKET PORT UNIXPATH LOG\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getenv("FAKE_BROKER_DELAY_MS"))
		delay_ms = (unsigned int)atoi(getenv("FAKE_BROKER_DELAY_MS"));
	base_port = (unsigned int)atoi(argv[2]);
	unix_path = argv[3];
	logf = fopen(argv[4], "a");
	if (!logf) {
		perror(argv[4]);
		return 1;
	}
	ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	unlink(argv[1]);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(ls, 4096) < 0) {
		perror("fake_broker: listen");
		return 1;
	}
	pfd[0].fd = ls;
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, (nfds_t)nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("fake_broker: poll");
			return 1;
		}
		for (i = nfds - 1; i >= 1; i--) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].revents & POLLIN)
				handle(pfd[i].fd);
			if (pfd[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				close(pfd[i].fd);
				pfd[i] = pfd[--nfds];
			}
		}
		if ((pfd[0].revents & POLLIN) && nfds <= MAX_CLIENTS) {
			int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0) {
				pfd[nfds].fd = c;
				pfd[nfds].events = POLLIN;
				pfd[nfds].revents = 0;
				nfds++;
			}
		}
	}
}
