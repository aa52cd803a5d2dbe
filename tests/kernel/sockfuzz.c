// SPDX-License-Identifier: GPL-2.0
/*
 * sockfuzz — random socket calls on AF_GRAFT sockets, from several threads,
 * while the namespaces they live in come and go.
 *
 *   sockfuzz [-t SECONDS] [-n CALLS] [-s SEED] [-j THREADS] [-S 0|1]
 *
 * The process starts in the "host" namespace and serves there: a TCP
 * listener on 127.0.0.1 and ::1, a UDP socket and Unix stream and datagram
 * sockets.  A churn thread keeps four client namespaces alive, replacing one
 * every 20-200 ms: each has endpoints onto the host's loopback (dynamic and
 * default, fixed ports, IPv6), onto Unix paths, and onto a throwaway target
 * namespace held only by its endpoint; endpoints are deleted and re-added
 * underneath live sockets.  THREADS workers (default 4) each keep a table of
 * descriptors and call socket/bind/connect/listen/accept/setsockopt/
 * getsockopt/ioctl/send/recv/shutdown/getname/poll/close on them in random
 * order with random (often invalid) arguments; descriptors are shared between
 * threads with dup().  With -S 1 (the default) they also pass descriptors
 * over SCM_RIGHTS: over Unix socketpairs, and through the sockets themselves,
 * grafted Unix sockets included.  Every call is non-blocking.
 *
 * Prints a summary (calls per operation, successes) and exits 0; 1 if a
 * worker stays stuck in the kernel past the deadline, 2 on usage errors.
 */
#include "fuzzlib.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/un.h>

#define PROG "sockfuzz"
#define SLOTS 4
#define TABLE 24
#define SHARED 16
#define MAX_THREADS 16

enum op {
	OP_SOCKET, OP_BIND, OP_CONNECT, OP_LISTEN, OP_ACCEPT, OP_SETSOCKOPT,
	OP_GETSOCKOPT, OP_IOCTL, OP_SEND, OP_RECV, OP_SHUTDOWN, OP_GETNAME,
	OP_CLOSE, OP_SHARE, OP_SCM, OP_UNIX, OP_POLL, OP_CHAIN, OP_COUNT
};
static const char *op_names[OP_COUNT] = {
	"socket", "bind", "connect", "listen", "accept", "setsockopt",
	"getsockopt", "ioctl", "send", "recv", "shutdown", "getname",
	"close", "share", "scm", "unix", "poll", "chain"
};
static const unsigned op_weight[OP_COUNT] = {
	10, 10, 10, 5, 8, 10, 8, 5, 10, 10, 3, 4, 6, 3, 6, 4, 3, 4
};

static atomic_ulong calls[OP_COUNT], oks[OP_COUNT];
static atomic_ulong total_calls, scm_passed, ns_made, ep_added, ep_deleted;
static atomic_int stop;
static unsigned long max_calls = 2000000000UL;
static double deadline;
static int scm_on = 1;
static char dir[64];
static uint16_t port4, port6, portu, fixed_port[SLOTS];
static int host_ns;
static uint16_t family;

/* The client namespaces, replaced one at a time by the churn thread. */
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int nsfd, nlfd;
	unsigned gen;
} slot[SLOTS];

/* Descriptors any thread may take a dup() of. */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static int shared[SHARED];

static const char *ep_names[] = { "d4", "d6", "p4", "p6", "u", "us", "t4", "nope", "" };
#define EP_COUNT (sizeof(ep_names) / sizeof(ep_names[0]))

static void unix_path(char *buf, size_t len, unsigned s, unsigned gen)
{
	snprintf(buf, len, "%s/u%u-%u.sock", dir, s, gen % 3);
}

/* ---- the host side: listeners that accept and drop --------------------- */

static int listen_on(int family_, int type, void *addr, socklen_t len, uint16_t *port)
{
	int fd = socket(family_, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		fz_die(PROG, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, addr, len))
		fz_die(PROG, "bind (host listener): %s", strerror(errno));
	if (type == SOCK_STREAM && listen(fd, 128))
		fz_die(PROG, "listen: %s", strerror(errno));
	if (port) {
		struct sockaddr_in6 sa;
		socklen_t sl = sizeof(sa);

		getsockname(fd, (struct sockaddr *)&sa, &sl);
		*port = ntohs(sa.sin6_port); /* same offset in sockaddr_in */
	}
	return fd;
}

static void *host_thread(void *arg)
{
	int *l = arg, conns[64], nconn = 0, i;
	char buf[4096];

	memset(conns, -1, sizeof(conns));
	while (!atomic_load(&stop)) {
		struct pollfd p[4];

		for (i = 0; i < 4; i++)
			p[i] = (struct pollfd){ .fd = l[i], .events = POLLIN };
		poll(p, 4, 20);
		for (i = 0; i < 4; i++) {
			int c = i == 2 ? -1 : accept4(l[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (i == 2 || i == 4)
				while (recv(l[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
					;
			if (c < 0)
				continue;
			if (conns[nconn % 64] >= 0)
				close(conns[nconn % 64]);
			conns[nconn++ % 64] = c;
		}
		for (i = 0; i < 64; i++)
			if (conns[i] >= 0)
				while (recv(conns[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
					;
	}
	for (i = 0; i < 64; i++)
		if (conns[i] >= 0)
			close(conns[i]);
	return NULL;
}

/* ---- the churn thread: namespaces and endpoints --------------------------- */

static int ep_add(int nl, const char *name, uint8_t type, const void *addr,
		  uint16_t port, uint32_t flags, const char *path, int nsfd)
{
	struct fz_msg m;
	int r;

	fz_msg_init(&m, family, 0, GRAFT_CMD_EP_ADD, AF_GRAFT_GENL_VERSION);
	fz_put_str(&m, GRAFT_A_EP_NAME, name);
	fz_put_u8(&m, GRAFT_A_EP_TYPE, type);
	if (path) {
		fz_put_str(&m, GRAFT_A_EP_PATH, path);
	} else {
		fz_put(&m, GRAFT_A_EP_ADDR, addr, type == GRAFT_EP_TYPE_IPV4 ? 4 : 16);
		if (port)
			fz_put_u16(&m, GRAFT_A_EP_PORT, port);
	}
	if (flags)
		fz_put_u32(&m, GRAFT_A_EP_FLAGS, flags);
	if (nsfd >= 0)
		fz_put_u32(&m, GRAFT_A_EP_NETNS_FD, nsfd);
	r = fz_nl_call(nl, &m);
	if (!r)
		atomic_fetch_add(&ep_added, 1);
	return r;
}

static void ep_del(int nl, const char *name)
{
	struct fz_msg m;

	fz_msg_init(&m, family, 0, GRAFT_CMD_EP_DEL, AF_GRAFT_GENL_VERSION);
	fz_put_str(&m, GRAFT_A_EP_NAME, name);
	if (!fz_nl_call(nl, &m))
		atomic_fetch_add(&ep_deleted, 1);
}

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	strcpy(ifr.ifr_name, "lo");
	if (fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
}

static void add_endpoints(int nl, unsigned s, unsigned gen, int target)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 1 };
	static const uint8_t lo6[16] = { [15] = 1 };
	char path[128];

	ep_add(nl, "d4", GRAFT_EP_TYPE_IPV4, lo4, 0, GRAFT_EP_F_DYNAMIC_PORT | GRAFT_EP_F_DEFAULT, NULL, -1);
	ep_add(nl, "d6", GRAFT_EP_TYPE_IPV6, lo6, 0, GRAFT_EP_F_DYNAMIC_PORT | GRAFT_EP_F_DEFAULT, NULL, -1);
	ep_add(nl, "p4", GRAFT_EP_TYPE_IPV4, lo4, fixed_port[s], 0, NULL, -1);
	ep_add(nl, "p6", GRAFT_EP_TYPE_IPV6, lo6, fixed_port[s], 0, NULL, -1);
	unix_path(path, sizeof(path), s, gen);
	unlink(path);
	ep_add(nl, "u", GRAFT_EP_TYPE_UNIX, NULL, 0, 0, path, -1);
	snprintf(path, sizeof(path), "%s/srv.sock", dir);
	ep_add(nl, "us", GRAFT_EP_TYPE_UNIX, NULL, 0, 0, path, -1);
	if (target >= 0)
		ep_add(nl, "t4", GRAFT_EP_TYPE_IPV4, lo4, 0, GRAFT_EP_F_DYNAMIC_PORT, NULL, target);
}

/* Replaces slot s with a fresh namespace (and a fresh target behind "t4"). */
static void renew_slot(unsigned s)
{
	int target = -1, nsfd, nl;

	if (!unshare(CLONE_NEWNET)) {
		lo_up();
		target = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	}
	if (unshare(CLONE_NEWNET))
		fz_die(PROG, "unshare(CLONE_NEWNET): %s", strerror(errno));
	lo_up();
	nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	nl = fz_nl_open();
	if (nsfd < 0 || nl < 0)
		fz_die(PROG, "client namespace: %s", strerror(errno));
	struct timeval tv = { .tv_sec = 2 };

	setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	add_endpoints(nl, s, slot[s].gen + 1, target);
	if (target >= 0)
		close(target); /* the endpoint holds it now */
	if (setns(host_ns, CLONE_NEWNET))
		fz_die(PROG, "setns(host): %s", strerror(errno));
	pthread_mutex_lock(&slot_lock);
	if (slot[s].nsfd >= 0)
		close(slot[s].nsfd);
	if (slot[s].nlfd >= 0)
		close(slot[s].nlfd);
	slot[s].nsfd = nsfd;
	slot[s].nlfd = nl;
	slot[s].gen++;
	pthread_mutex_unlock(&slot_lock);
	atomic_fetch_add(&ns_made, 1);
}

static void *churn_thread(void *arg)
{
	struct fz_rng r;
	unsigned s;

	fz_seed(&r, *(uint64_t *)arg ^ 0xc0ffee);
	while (!atomic_load(&stop)) {
		struct timespec ts = { 0, (20 + fz_below(&r, 180)) * 1000000L };

		nanosleep(&ts, NULL);
		s = fz_below(&r, SLOTS);
		if (fz_one_in(&r, 2)) {
			renew_slot(s);
			continue;
		}
		/* Delete or re-add an endpoint under live sockets. */
		pthread_mutex_lock(&slot_lock);
		int nl = slot[s].nlfd >= 0 ? dup(slot[s].nlfd) : -1;
		unsigned gen = slot[s].gen;

		pthread_mutex_unlock(&slot_lock);
		if (nl < 0)
			continue;
		const char *name = ep_names[fz_below(&r, 6)];

		if (fz_one_in(&r, 2))
			ep_del(nl, name);
		else
			add_endpoints(nl, s, gen, -1);
		close(nl);
	}
	return NULL;
}

/* ---- the workers ---------------------------------------------------------- */

struct worker {
	struct fz_rng r;
	int id;
	int fd[TABLE];
	int pair[2];
	const char *in_op;
	pthread_t th;
	int done;
};

static uint8_t junk[65536];

/* Into a free slot if there is one, else over a random one. */
static void table_put(struct worker *w, int fd)
{
	unsigned i = fz_below(&w->r, TABLE), k;

	if (fd < 0)
		return;
	for (k = 0; k < TABLE && w->fd[(i + k) % TABLE] >= 0; k++)
		;
	if (k < TABLE)
		i = (i + k) % TABLE;
	if (w->fd[i] >= 0)
		close(w->fd[i]);
	w->fd[i] = fd;
}

static int table_any(struct worker *w)
{
	return w->fd[fz_below(&w->r, TABLE)];
}

/* An address to connect or send to: mostly real ones, sometimes garbage. */
static socklen_t pick_addr(struct worker *w, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_un *un = (struct sockaddr_un *)ss;
	unsigned s = fz_below(&w->r, SLOTS);

	memset(ss, 0, sizeof(*ss));
	switch (fz_below(&w->r, 9)) {
	case 0: case 1:
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in->sin_port = htons(fz_one_in(&w->r, 2) ? port4 : fixed_port[s]);
		if (fz_one_in(&w->r, 8))
			in->sin_port = htons(portu);
		return sizeof(*in);
	case 2:
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		in6->sin6_port = htons(fz_one_in(&w->r, 2) ? port6 : fixed_port[s]);
		return sizeof(*in6);
	case 3: case 4:
		un->sun_family = AF_UNIX;
		if (fz_one_in(&w->r, 2))
			snprintf(un->sun_path, sizeof(un->sun_path), "%s/srv.sock", dir);
		else
			unix_path(un->sun_path, sizeof(un->sun_path), s, fz_below(&w->r, 3));
		return sizeof(*un);
	case 5:
		ss->ss_family = AF_UNSPEC;
		return sizeof(struct sockaddr);
	case 6: { /* an abstract Unix name */
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1, "sockfuzz%u", s);
		return offsetof(struct sockaddr_un, sun_path) + 10;
	}
	default:
		fz_bytes(&w->r, ss, sizeof(*ss));
		if (fz_one_in(&w->r, 2))
			ss->ss_family = (sa_family_t[]){ AF_INET, AF_INET6, AF_UNIX, AF_GRAFT }[fz_below(&w->r, 4)];
		return fz_below(&w->r, sizeof(*ss) + 1);
	}
}

/*
 * Move the calling thread into slot @s's namespace (its generation in *@gen
 * if wanted); -1 when the slot has none or setns fails.  The caller goes
 * back with setns(host_ns).
 */
static int enter_slot(unsigned s, unsigned *gen)
{
	int nsfd = -1;

	pthread_mutex_lock(&slot_lock);
	if (slot[s].nsfd >= 0)
		nsfd = dup(slot[s].nsfd);
	if (gen)
		*gen = slot[s].gen;
	pthread_mutex_unlock(&slot_lock);
	if (nsfd < 0)
		return -1;
	if (setns(nsfd, CLONE_NEWNET)) {
		close(nsfd);
		return -1;
	}
	close(nsfd);
	return 0;
}

static int do_socket(struct worker *w)
{
	static const int types[] = { SOCK_STREAM, SOCK_STREAM, SOCK_DGRAM, SOCK_DGRAM,
				     SOCK_SEQPACKET, SOCK_RAW, 0, 11 };
	static const int protos[] = { 0, 0, 0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, 255, -1 };
	int type = types[fz_below(&w->r, 8)] | SOCK_NONBLOCK | SOCK_CLOEXEC;
	int fd, in_ns = !fz_one_in(&w->r, 8);

	if (in_ns && enter_slot(fz_below(&w->r, SLOTS), NULL))
		return -1;
	fd = socket(AF_GRAFT, type, protos[fz_below(&w->r, 8)]);
	if (in_ns && setns(host_ns, CLONE_NEWNET))
		fz_die(PROG, "setns(host): %s", strerror(errno));
	table_put(w, fd);
	return fd;
}

static int do_bind(struct worker *w)
{
	struct sockaddr_gr sg = { .sgr_family = AF_GRAFT };
	socklen_t len = sizeof(sg);

	snprintf(sg.sgr_epname, sizeof(sg.sgr_epname), "%s", ep_names[fz_below(&w->r, EP_COUNT)]);
	if (fz_one_in(&w->r, 6)) {
		fz_bytes(&w->r, &sg, sizeof(sg));
		if (fz_one_in(&w->r, 2))
			sg.sgr_family = AF_GRAFT;
		len = fz_below(&w->r, sizeof(sg) + 8);
	}
	if (fz_one_in(&w->r, 16)) { /* a real-family bind on a graft socket */
		struct sockaddr_storage ss;

		len = pick_addr(w, &ss);
		return bind(table_any(w), (struct sockaddr *)&ss, len);
	}
	return bind(table_any(w), (struct sockaddr *)&sg, len);
}

static int do_connect(struct worker *w)
{
	struct sockaddr_storage ss;
	socklen_t len = pick_addr(w, &ss);

	return connect(table_any(w), (struct sockaddr *)&ss, len);
}

static int do_accept(struct worker *w)
{
	struct sockaddr_storage ss;
	socklen_t len = fz_below(&w->r, sizeof(ss) + 1);
	int fd = accept4(table_any(w), fz_one_in(&w->r, 3) ? NULL : (struct sockaddr *)&ss,
			 &len, SOCK_NONBLOCK | (fz_one_in(&w->r, 2) ? SOCK_CLOEXEC : 0));

	table_put(w, fd);
	return fd;
}

static int pick_level(struct worker *w)
{
	static const int levels[] = { SOL_SOCKET, SOL_SOCKET, SOL_GRAFT, SOL_GRAFT, IPPROTO_TCP,
				      IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP, 0 };
	int l = levels[fz_below(&w->r, 10)];

	return l ? l : (int)fz_below(&w->r, 300);
}

static int do_setsockopt(struct worker *w)
{
	int level = pick_level(w), name = fz_below(&w->r, 80);
	union { int i; struct linger l; uint8_t b[64]; } v;
	static const socklen_t lens[] = { 0, 1, 2, 4, 4, 4, 8, 16, 64 };
	socklen_t len = lens[fz_below(&w->r, 9)];

	fz_bytes(&w->r, &v, sizeof(v));
	if (fz_one_in(&w->r, 2))
		v.i = fz_below(&w->r, 4) - 1;
	if (level == SOL_SOCKET && name == SO_LINGER)
		v.l.l_linger = 0; /* a lingering close would block the worker */
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD))
		memset(&v, 0, sizeof(v));
	return setsockopt(table_any(w), level, name, &v, len);
}

static int do_getsockopt(struct worker *w)
{
	uint8_t v[256];
	socklen_t len = fz_one_in(&w->r, 2) ? 4 : fz_below(&w->r, sizeof(v) + 1);

	return getsockopt(table_any(w), pick_level(w), fz_below(&w->r, 80), v, &len);
}

/* Read-only requests, and setting lo up (never anything that changes the
 * host: forwarded ioctls reach the target namespace). */
static int do_ioctl(struct worker *w)
{
	static const unsigned long reqs[] = { FIONREAD, SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK,
					      SIOCGSTAMP_OLD, SIOCGSTAMPNS_OLD, SIOCGIFCONF,
					      SIOCGIFFLAGS, SIOCGIFINDEX, SIOCGIFMTU, SIOCGIFADDR,
					      SIOCGIFNAME, SIOCGIFHWADDR, SIOCGIFNETMASK, SIOCSIFFLAGS,
					      0x5401 /* TCGETS */, 0x89ff, 0x8946 /* SIOCETHTOOL */ };
	unsigned long req = reqs[fz_below(&w->r, sizeof(reqs) / sizeof(reqs[0]))];
	union { struct ifreq ifr; struct ifconf ifc; uint8_t b[512]; } a;
	static __thread uint8_t conf[1024];

	memset(&a, 0, sizeof(a));
	strcpy(a.ifr.ifr_name, fz_one_in(&w->r, 4) ? "nosuch0" : "lo");
	if (req == SIOCGIFCONF) {
		a.ifc.ifc_len = fz_below(&w->r, sizeof(conf));
		a.ifc.ifc_buf = fz_one_in(&w->r, 4) ? NULL : (char *)conf;
	} else if (req == SIOCSIFFLAGS) {
		a.ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
		strcpy(a.ifr.ifr_name, "lo");
	} else if (req == SIOCGIFNAME) {
		a.ifr.ifr_ifindex = fz_below(&w->r, 4);
	} else if (req == 0x8946) {
		uint32_t gdrvinfo = 3; /* ETHTOOL_GDRVINFO: a read */

		memcpy(conf, &gdrvinfo, sizeof(gdrvinfo));
		a.ifr.ifr_data = (char *)conf;
	}
	return ioctl(table_any(w), req, &a);
}

static int do_send(struct worker *w)
{
	struct sockaddr_storage ss;
	int fd = table_any(w), flags = MSG_DONTWAIT | MSG_NOSIGNAL;
	size_t len = fz_one_in(&w->r, 8) ? fz_below(&w->r, sizeof(junk)) : fz_below(&w->r, 2048);

	if (fz_one_in(&w->r, 8))
		flags |= (int[]){ MSG_OOB, MSG_MORE, MSG_EOR, MSG_CONFIRM, MSG_ZEROCOPY }[fz_below(&w->r, 5)];
	switch (fz_below(&w->r, 3)) {
	case 0:
		return send(fd, junk, len, flags);
	case 1: {
		socklen_t sl = pick_addr(w, &ss);

		return sendto(fd, junk, len, flags, (struct sockaddr *)&ss, sl);
	}
	default: {
		struct iovec iov[2] = { { junk, len / 2 }, { junk + len / 2, len - len / 2 } };
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

		if (fz_one_in(&w->r, 2)) {
			mh.msg_namelen = pick_addr(w, &ss);
			mh.msg_name = &ss;
		}
		return sendmsg(fd, &mh, flags);
	}
	}
}

/* Any descriptor that arrives by SCM_RIGHTS joins the table. */
static void take_rights(struct worker *w, struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int), i;
		int *fds = (int *)CMSG_DATA(c);

		for (i = 0; i < n; i++)
			table_put(w, fds[i]);
	}
}

static int do_recv_on(struct worker *w, int fd)
{
	static __thread uint8_t buf[65536];
	static const int extra[] = { 0, 0, MSG_PEEK, MSG_TRUNC, MSG_WAITALL, MSG_ERRQUEUE, MSG_OOB, MSG_CMSG_CLOEXEC };
	int flags = MSG_DONTWAIT | extra[fz_below(&w->r, 8)];
	union { char b[CMSG_SPACE(sizeof(int) * 8)]; struct cmsghdr align; } cbuf;
	struct sockaddr_storage ss;
	struct iovec iov = { buf, fz_below(&w->r, sizeof(buf) + 1) };
	struct msghdr mh = { .msg_name = &ss, .msg_namelen = fz_below(&w->r, sizeof(ss) + 1),
			     .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = &cbuf, .msg_controllen = sizeof(cbuf) };
	int r;

	if (fz_one_in(&w->r, 3))
		return recv(fd, buf, iov.iov_len, flags);
	r = recvmsg(fd, &mh, flags);
	if (r >= 0)
		take_rights(w, &mh);
	return r;
}

/* Passes 1-3 descriptors over a socketpair or through a socket of the table. */
static int do_scm(struct worker *w)
{
	union { char b[CMSG_SPACE(sizeof(int) * 3)]; struct cmsghdr align; } cbuf;
	int n = 1 + fz_below(&w->r, 3), i, carrier, r;
	struct iovec iov = { junk, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cbuf,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	if (w->pair[0] < 0 || fz_one_in(&w->r, 20)) { /* in-flight descriptors die with the pair */
		if (w->pair[0] >= 0) {
			close(w->pair[0]);
			close(w->pair[1]);
		}
		if (socketpair(AF_UNIX, (fz_one_in(&w->r, 2) ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, w->pair))
			w->pair[0] = w->pair[1] = -1;
	}
	if (fz_one_in(&w->r, 3) && w->pair[1] >= 0)
		return do_recv_on(w, w->pair[1]);
	carrier = fz_one_in(&w->r, 2) ? w->pair[0] : table_any(w);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	for (i = 0; i < n; i++) {
		int fd = table_any(w);

		if (fd < 0 && i == 0)
			fd = carrier;
		((int *)CMSG_DATA(c))[i] = fd;
	}
	r = sendmsg(carrier, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r >= 0)
		atomic_fetch_add(&scm_passed, n);
	return r;
}

/* A plain Unix client of a grafted (or host) Unix listener. */
static int do_unix(struct worker *w)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, (fz_one_in(&w->r, 4) ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (fz_one_in(&w->r, 5))
		snprintf(un.sun_path, sizeof(un.sun_path), "%s/srv.sock", dir);
	else
		unix_path(un.sun_path, sizeof(un.sun_path), fz_below(&w->r, SLOTS), fz_below(&w->r, 3));
	table_put(w, fd);
	return connect(fd, (struct sockaddr *)&un, sizeof(un));
}

/*
 * A whole connection in one go, so that accepted graft sockets are common:
 * a grafted listener on the slot's Unix endpoint (or its fixed TCP port),
 * a client (plain Unix, or a graft socket through "d4"), and accept().  All
 * three join the table; with a Unix host, passing the accepted socket
 * through the client puts it in its own host's receive queue.
 */
static int do_chain(struct worker *w)
{
	struct sockaddr_gr sg = { .sgr_family = AF_GRAFT };
	struct sockaddr_storage ss;
	struct pollfd p;
	int tcp = fz_one_in(&w->r, 3), l, c, a;
	unsigned s = fz_below(&w->r, SLOTS), gen;

	if (enter_slot(s, &gen))
		return -1;
	l = socket(AF_GRAFT, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c = tcp ? socket(AF_GRAFT, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
	if (setns(host_ns, CLONE_NEWNET))
		fz_die(PROG, "setns(host): %s", strerror(errno));
	table_put(w, l);
	strcpy(sg.sgr_epname, tcp ? "p4" : "u");
	if (!tcp) { /* a previous listener's file */
		char path[128];

		unix_path(path, sizeof(path), s, gen);
		unlink(path);
	}
	if (l < 0 || bind(l, (struct sockaddr *)&sg, sizeof(sg)) || listen(l, 8)) {
		if (c >= 0)
			close(c);
		return -1;
	}
	if (tcp) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		memset(in, 0, sizeof(*in));
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in->sin_port = htons(fixed_port[s]);
	} else {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		memset(un, 0, sizeof(*un));
		un->sun_family = AF_UNIX;
		unix_path(un->sun_path, sizeof(un->sun_path), s, gen);
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	table_put(w, c);
	if (c < 0)
		return -1;
	connect(c, (struct sockaddr *)&ss, tcp ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_un));
	p = (struct pollfd){ .fd = l, .events = POLLIN };
	poll(&p, 1, 50);
	a = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	table_put(w, a);
	return a;
}

static int do_share(struct worker *w)
{
	int i = fz_below(&w->r, SHARED), fd = -1, mine = table_any(w);

	pthread_mutex_lock(&shared_lock);
	if (fz_one_in(&w->r, 2) && mine >= 0) {
		if (shared[i] >= 0)
			close(shared[i]);
		shared[i] = dup(mine);
		fd = shared[i];
	} else if (shared[i] >= 0) {
		fd = dup(shared[i]);
		table_put(w, fd);
	}
	pthread_mutex_unlock(&shared_lock);
	return fd;
}

static int do_poll(struct worker *w)
{
	struct pollfd p[4];
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (struct pollfd){ .fd = table_any(w), .events = POLLIN | POLLOUT | POLLPRI | POLLRDHUP };
	return poll(p, 4, 0);
}

static int do_op(struct worker *w, enum op op)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int i;

	switch (op) {
	case OP_SOCKET: return do_socket(w);
	case OP_BIND: return do_bind(w);
	case OP_CONNECT: return do_connect(w);
	case OP_LISTEN: return listen(table_any(w), (int)fz_below(&w->r, 130) - 2);
	case OP_ACCEPT: return do_accept(w);
	case OP_SETSOCKOPT: return do_setsockopt(w);
	case OP_GETSOCKOPT: return do_getsockopt(w);
	case OP_IOCTL: return do_ioctl(w);
	case OP_SEND: return do_send(w);
	case OP_RECV: return do_recv_on(w, table_any(w));
	case OP_SHUTDOWN: return shutdown(table_any(w), fz_below(&w->r, 4));
	case OP_GETNAME:
		sl = fz_below(&w->r, sizeof(ss) + 1);
		return (fz_one_in(&w->r, 2) ? getsockname : getpeername)(table_any(w), (struct sockaddr *)&ss, &sl);
	case OP_CLOSE:
		i = fz_below(&w->r, TABLE);
		if (w->fd[i] < 0)
			return -1;
		close(w->fd[i]);
		w->fd[i] = -1;
		return 0;
	case OP_SHARE: return do_share(w);
	case OP_SCM: return scm_on ? do_scm(w) : do_poll(w);
	case OP_UNIX: return do_unix(w);
	case OP_CHAIN: return do_chain(w);
	default: return do_poll(w);
	}
}

static enum op pick_op(struct worker *w)
{
	static unsigned sum;
	unsigned x, i;

	if (!sum)
		for (i = 0; i < OP_COUNT; i++)
			sum += op_weight[i];
	x = fz_below(&w->r, sum);
	for (i = 0; i < OP_COUNT; i++) {
		if (x < op_weight[i])
			return i;
		x -= op_weight[i];
	}
	return OP_POLL;
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&stop)) {
		enum op op = pick_op(w);

		if (atomic_fetch_add(&total_calls, 1) >= max_calls || fz_now() > deadline)
			break;
		w->in_op = op_names[op];
		atomic_fetch_add(&calls[op], 1);
		if (do_op(w, op) >= 0)
			atomic_fetch_add(&oks[op], 1);
	}
	w->in_op = "exit";
	for (int i = 0; i < TABLE; i++)
		if (w->fd[i] >= 0)
			close(w->fd[i]);
	if (w->pair[0] >= 0) {
		close(w->pair[0]);
		close(w->pair[1]);
	}
	w->done = 1;
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: sockfuzz [-t SECONDS] [-n CALLS] [-s SEED] [-j THREADS] [-S 0|1]\n");
	exit(2);
}

static void setup_host(int l[4])
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int nl, i;

	if (!mkdtemp(strcpy(dir, "/tmp/sockfuzz.XXXXXX")))
		fz_die(PROG, "mkdtemp: %s", strerror(errno));
	chmod(dir, 0755);
	l[0] = listen_on(AF_INET, SOCK_STREAM, &a4, sizeof(a4), &port4);
	l[1] = listen_on(AF_INET6, SOCK_STREAM, &a6, sizeof(a6), &port6);
	l[2] = listen_on(AF_INET, SOCK_DGRAM, &a4, sizeof(a4), &portu);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/srv.sock", dir);
	l[3] = listen_on(AF_UNIX, SOCK_STREAM, &un, sizeof(un), NULL);
	for (i = 0; i < SLOTS; i++)
		fixed_port[i] = port4 + 1 + i; /* may be taken: bind then fails, which is fine */
	host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	nl = fz_nl_open();
	if (host_ns < 0 || nl < 0)
		fz_die(PROG, "host namespace: %s", strerror(errno));
	family = fz_family(nl);
	close(nl);
	if (!family)
		fz_die(PROG, "generic netlink family %s not found (module not loaded?)", AF_GRAFT_GENL_NAME);
	for (i = 0; i < SLOTS; i++) {
		slot[i].nsfd = slot[i].nlfd = -1;
		renew_slot(i);
	}
	for (i = 0; i < SHARED; i++)
		shared[i] = -1;
}

int main(int argc, char **argv)
{
	struct worker w[MAX_THREADS];
	uint64_t seed = (uint64_t)time(NULL);
	double secs = 60, t0;
	int opt, threads = 4, i, l[4], stuck = 0;
	pthread_t host, churn;

	while ((opt = getopt(argc, argv, "t:n:s:j:S:")) != -1) {
		switch (opt) {
		case 't': secs = atof(optarg); break;
		case 'n': max_calls = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'j': threads = atoi(optarg); break;
		case 'S': scm_on = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || secs <= 0 || threads < 1 || threads > MAX_THREADS || !max_calls)
		usage();
	signal(SIGPIPE, SIG_IGN);
	fz_bytes(&(struct fz_rng){ seed }, junk, sizeof(junk));
	setup_host(l);
	t0 = fz_now();
	deadline = t0 + secs;
	pthread_create(&host, NULL, host_thread, l);
	pthread_create(&churn, NULL, churn_thread, &seed);
	for (i = 0; i < threads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		fz_seed(&w[i].r, seed + 1 + i);
		w[i].id = i;
		memset(w[i].fd, -1, sizeof(w[i].fd));
		w[i].pair[0] = w[i].pair[1] = -1;
		pthread_create(&w[i].th, NULL, worker_thread, &w[i]);
	}
	/* Wait for the workers, 15 s past the deadline at most. */
	while (fz_now() < deadline + 15) {
		int live = 0;

		for (i = 0; i < threads; i++)
			live += !w[i].done;
		if (!live)
			break;
		usleep(100000);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < threads; i++) {
		if (w[i].done) {
			pthread_join(w[i].th, NULL);
		} else {
			fprintf(stderr, "sockfuzz: worker %d stuck in %s for more than 15 s\n", i, w[i].in_op);
			stuck = 1;
		}
	}
	if (stuck) {
		fflush(NULL);
		_exit(1);
	}
	pthread_join(churn, NULL);
	pthread_join(host, NULL);
	printf("sockfuzz: seed %llu, %d threads, descriptor passing %s: %lu calls in %.1f s;"
	       " %lu namespaces, %lu endpoints added, %lu deleted, %lu descriptors passed\n  ",
	       (unsigned long long)seed, threads, scm_on ? "on" : "off",
	       (unsigned long)atomic_load(&total_calls) > max_calls ? max_calls : (unsigned long)atomic_load(&total_calls),
	       fz_now() - t0, (unsigned long)ns_made, (unsigned long)ep_added,
	       (unsigned long)ep_deleted, (unsigned long)scm_passed);
	for (i = 0; i < OP_COUNT; i++)
		printf(" %s %lu/%lu", op_names[i], (unsigned long)oks[i], (unsigned long)calls[i]);
	printf(" (ok/calls)\n");
	for (i = 0; i < SLOTS; i++) {
		close(slot[i].nsfd);
		close(slot[i].nlfd);
	}
	for (i = 0; i < SHARED; i++)
		if (shared[i] >= 0)
			close(shared[i]);
	for (i = 0; i < 4; i++)
		close(l[i]);
	for (i = 0; i < 3; i++) {
		char p[160];

		for (unsigned s = 0; s < SLOTS; s++) {
			unix_path(p, sizeof(p), s, i);
			unlink(p);
		}
	}
	char p[160];

	snprintf(p, sizeof(p), "%s/srv.sock", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}
