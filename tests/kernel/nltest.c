// SPDX-License-Identifier: GPL-2.0
/*
 * nltest — speaks raw generic netlink to the af_graft family.
 *
 *   nltest add NAME ipv4|ipv6 ADDR PORT|dynamic [default] [reuseport] [pid PID]
 *   nltest add NAME unix PATH [abstract] [pid PID]
 *   nltest del NAME
 *   nltest show            (dump, one line per endpoint, seed format)
 *   nltest get NAME
 *   nltest socks           (dump of bound graft sockets, one line each)
 *   nltest selftest        (valid and malformed requests; exit 0 if all pass)
 *
 * Every refusal is printed as "errno: extended-ack message".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uapi/af_graft.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define BUFSZ 16384

struct msg {
	char buf[4096];
	struct nlmsghdr *nlh;
};

static int nl_fd = -1;
static uint16_t family_id;
static uint32_t seq_no = 1;
static char last_ext[256];

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "nltest: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void msg_init(struct msg *m, uint16_t type, uint16_t flags, uint8_t cmd)
{
	struct genlmsghdr *g;

	memset(m->buf, 0, sizeof(m->buf));
	m->nlh = (struct nlmsghdr *)m->buf;
	m->nlh->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nlh->nlmsg_type = type;
	m->nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	m->nlh->nlmsg_seq = seq_no++;
	g = NLMSG_DATA(m->nlh);
	g->cmd = cmd;
	g->version = AF_GRAFT_GENL_VERSION;
}

static void put_attr(struct msg *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->nlh->nlmsg_len));

	if (NLMSG_ALIGN(m->nlh->nlmsg_len) + NLA_HDRLEN + NLA_ALIGN(len) > sizeof(m->buf))
		die("message too long");
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	m->nlh->nlmsg_len = NLMSG_ALIGN(m->nlh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void put_str(struct msg *m, uint16_t type, const char *s)
{
	put_attr(m, type, s, strlen(s) + 1);
}

static void put_u8(struct msg *m, uint16_t type, uint8_t v) { put_attr(m, type, &v, 1); }
static void put_u16(struct msg *m, uint16_t type, uint16_t v) { put_attr(m, type, &v, 2); }
static void put_u32(struct msg *m, uint16_t type, uint32_t v) { put_attr(m, type, &v, 4); }

static int nl_open(void)
{
	int one = 1;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd < 0)
		die("socket(NETLINK_GENERIC): %s", strerror(errno));
	if (setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)))
		die("setsockopt(NETLINK_EXT_ACK): %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind(netlink): %s", strerror(errno));
	return fd;
}

typedef void (*reply_cb)(struct nlmsghdr *nlh, void *arg);

static void parse_ext_ack(struct nlmsghdr *nlh)
{
	struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t off = sizeof(*e);
	char *end = (char *)nlh + nlh->nlmsg_len;
	struct nlattr *a;

	last_ext[0] = 0;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	for (a = (struct nlattr *)((char *)e + NLMSG_ALIGN(off));
	     (char *)a + NLA_HDRLEN <= end && a->nla_len >= NLA_HDRLEN &&
	     (char *)a + a->nla_len <= end;
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG)
			snprintf(last_ext, sizeof(last_ext), "%.*s",
				 (int)(a->nla_len - NLA_HDRLEN), (char *)a + NLA_HDRLEN);
	}
}

/* Send @m, feed replies to @cb, return 0 or -errno (extack in last_ext). */
static int nl_request(int fd, struct msg *m, reply_cb cb, void *arg)
{
	static char buf[BUFSZ];
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	uint32_t seq = m->nlh->nlmsg_seq;
	int loops = 0;

	last_ext[0] = 0;
	if (sendto(fd, m->buf, m->nlh->nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		die("sendto(netlink): %s", strerror(errno));
	while (loops++ < 10000) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		if (n < 0)
			die("recv(netlink): %s", strerror(errno));
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, (size_t)n); nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nlh);

				parse_ext_ack(nlh);
				return e->error;
			}
			if (nlh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (cb)
				cb(nlh, arg);
		}
	}
	die("netlink: no end of reply");
	return -EIO;
}

/* Call @fn for each attribute of a generic netlink message: its type, payload and length. */
static void genl_attrs(struct nlmsghdr *nlh, void (*fn)(int type, void *p, int plen, void *arg),
		       void *arg)
{
	struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(nlh) + GENL_HDRLEN);
	int len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
		fn(a->nla_type, (char *)a + NLA_HDRLEN, a->nla_len - NLA_HDRLEN, arg);
}

static void family_attr(int type, void *p, int plen, void *arg)
{
	if (type == CTRL_ATTR_FAMILY_ID && plen == 2)
		memcpy(arg, p, 2);
}

static void family_cb(struct nlmsghdr *nlh, void *arg)
{
	genl_attrs(nlh, family_attr, arg);
}

static uint16_t resolve_family(int fd)
{
	struct msg m;
	uint16_t id = 0;
	int ret;

	msg_init(&m, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY);
	((struct genlmsghdr *)NLMSG_DATA(m.nlh))->version = 2;
	put_str(&m, CTRL_ATTR_FAMILY_NAME, AF_GRAFT_GENL_NAME);
	ret = nl_request(fd, &m, family_cb, &id);
	if (ret)
		die("family %s not found: %s (is af_graft loaded?)", AF_GRAFT_GENL_NAME, strerror(-ret));
	if (!id)
		die("family %s: no id in reply", AF_GRAFT_GENL_NAME);
	return id;
}

/* ---- endpoint descriptions ---------------------------------------------- */

struct ep_desc {
	char name[32], path[128], addr[64];
	int type, port, netnsid, pid;
	uint32_t flags;
	bool has_nsid;
};

static void ep_attr(int type, void *p, int plen, void *arg)
{
	struct ep_desc *d = arg;

	switch (type) {
	case GRAFT_A_EP_NAME: snprintf(d->name, sizeof(d->name), "%.*s", plen, (char *)p); break;
	case GRAFT_A_EP_TYPE: d->type = *(uint8_t *)p; break;
	case GRAFT_A_EP_FLAGS: d->flags = *(uint32_t *)p; break;
	case GRAFT_A_EP_PORT: d->port = *(uint16_t *)p; break;
	case GRAFT_A_EP_PATH: snprintf(d->path, sizeof(d->path), "%.*s", plen, (char *)p); break;
	case GRAFT_A_EP_NETNS_PID: d->pid = *(uint32_t *)p; break;
	case GRAFT_A_EP_NETNSID: d->netnsid = *(int32_t *)p; d->has_nsid = true; break;
	case GRAFT_A_EP_ADDR:
		inet_ntop(plen == 16 ? AF_INET6 : AF_INET, p, d->addr, sizeof(d->addr));
		break;
	}
}

static void ep_parse(struct nlmsghdr *nlh, struct ep_desc *d)
{
	memset(d, 0, sizeof(*d));
	genl_attrs(nlh, ep_attr, d);
}

static void ep_format(const struct ep_desc *d, char *out, size_t n)
{
	static const char *types[] = { "?", "ipv4", "ipv6", "unix" };
	int o;

	if (d->type == GRAFT_EP_TYPE_UNIX)
		o = snprintf(out, n, "%s type unix path %s", d->name, d->path);
	else if (d->flags & GRAFT_EP_F_DYNAMIC_PORT)
		o = snprintf(out, n, "%s type %s addr %s port dynamic", d->name, types[d->type & 3], d->addr);
	else
		o = snprintf(out, n, "%s type %s addr %s port %d", d->name, types[d->type & 3], d->addr, d->port);
	if (d->flags & GRAFT_EP_F_DEFAULT)
		o += snprintf(out + o, n - o, " default");
	if (d->flags & GRAFT_EP_F_REUSEPORT)
		o += snprintf(out + o, n - o, " reuseport");
	if (d->flags & GRAFT_EP_F_ABSTRACT)
		o += snprintf(out + o, n - o, " abstract");
	if (d->pid)
		o += snprintf(out + o, n - o, " netns %d", d->pid);
	if (d->has_nsid)
		snprintf(out + o, n - o, " nsid %d", d->netnsid);
}

static void show_cb(struct nlmsghdr *nlh, void *arg)
{
	struct ep_desc d;
	char line[512];
	int *count = arg;

	ep_parse(nlh, &d);
	ep_format(&d, line, sizeof(line));
	printf("%s\n", line);
	if (count)
		(*count)++;
}

struct collect {
	char text[8192];
	int count;
};

static void collect_cb(struct nlmsghdr *nlh, void *arg)
{
	struct collect *c = arg;
	struct ep_desc d;
	char line[512];
	size_t l = strlen(c->text);

	ep_parse(nlh, &d);
	ep_format(&d, line, sizeof(line));
	snprintf(c->text + l, sizeof(c->text) - l, "%s\n", line);
	c->count++;
}

/* ---- graft socket descriptions (GRAFT_CMD_SOCK_GET) ----------------------- */

struct sock_desc {
	uint64_t ino, host_ino, sent, received;
	char ep[32], local[160], peer[160];
	int family, type, protocol, state;
	uint32_t netns_ino;
	bool has_bytes, has_peer;
};

static void sockaddr_format(const void *p, int len, char *out, size_t n)
{
	const struct sockaddr *sa = p;
	char a[INET6_ADDRSTRLEN];

	if (len >= (int)sizeof(struct sockaddr_in) && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = p;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(out, n, "%s:%d", a, ntohs(sin->sin_port));
	} else if (len >= (int)sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = p;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(out, n, "[%s]:%d", a, ntohs(sin6->sin6_port));
	} else if (len >= (int)sizeof(sa_family_t) && sa->sa_family == AF_UNIX) {
		int plen = len - (int)offsetof(struct sockaddr_un, sun_path);

		snprintf(out, n, "unix:%.*s", plen > 0 ? plen : 0,
			 ((const struct sockaddr_un *)p)->sun_path);
	} else {
		snprintf(out, n, "?family-%d/%d", sa->sa_family, len);
	}
}

static void sock_attr(int type, void *p, int plen, void *arg)
{
	struct sock_desc *d = arg;

	switch (type) {
	case GRAFT_A_SOCK_INODE: memcpy(&d->ino, p, 8); break;
	case GRAFT_A_SOCK_HOST_INODE: memcpy(&d->host_ino, p, 8); break;
	case GRAFT_A_EP_NAME: snprintf(d->ep, sizeof(d->ep), "%.*s", plen, (char *)p); break;
	case GRAFT_A_SOCK_FAMILY: d->family = *(uint16_t *)p; break;
	case GRAFT_A_SOCK_TYPE: d->type = *(uint16_t *)p; break;
	case GRAFT_A_SOCK_PROTOCOL: d->protocol = *(uint16_t *)p; break;
	case GRAFT_A_SOCK_STATE: d->state = *(uint8_t *)p; break;
	case GRAFT_A_SOCK_NETNS_INO: d->netns_ino = *(uint32_t *)p; break;
	case GRAFT_A_SOCK_LOCAL: sockaddr_format(p, plen, d->local, sizeof(d->local)); break;
	case GRAFT_A_SOCK_PEER:
		sockaddr_format(p, plen, d->peer, sizeof(d->peer));
		d->has_peer = true;
		break;
	case GRAFT_A_SOCK_BYTES_SENT: memcpy(&d->sent, p, 8); d->has_bytes = true; break;
	case GRAFT_A_SOCK_BYTES_RECEIVED: memcpy(&d->received, p, 8); break;
	}
}

static void sock_parse(struct nlmsghdr *nlh, struct sock_desc *d)
{
	memset(d, 0, sizeof(*d));
	genl_attrs(nlh, sock_attr, d);
}

static void sock_format(const struct sock_desc *d, char *out, size_t n)
{
	int o = snprintf(out, n, "ino %llu ep %s family %d type %d proto %d state %d netns %u host-ino %llu local %s peer %s",
			 (unsigned long long)d->ino, d->ep, d->family, d->type, d->protocol, d->state,
			 d->netns_ino, (unsigned long long)d->host_ino, d->local[0] ? d->local : "-",
			 d->has_peer ? d->peer : "-");

	if (d->has_bytes)
		snprintf(out + o, n - o, " sent %llu received %llu",
			 (unsigned long long)d->sent, (unsigned long long)d->received);
}

struct sock_list {
	struct sock_desc d[16];
	int count;
};

static void socks_cb(struct nlmsghdr *nlh, void *arg)
{
	struct sock_list *l = arg;
	struct sock_desc d;
	char line[512];

	sock_parse(nlh, &d);
	if (l) {
		if (l->count < 16)
			l->d[l->count] = d;
		l->count++;
	} else {
		sock_format(&d, line, sizeof(line));
		printf("%s\n", line);
	}
}

static int dump_socks(int fd, struct sock_list *l)
{
	struct msg m;

	msg_init(&m, family_id, NLM_F_DUMP, GRAFT_CMD_SOCK_GET);
	if (l)
		memset(l, 0, sizeof(*l));
	return nl_request(fd, &m, socks_cb, l);
}

static struct sock_desc *find_sock(struct sock_list *l, uint64_t ino)
{
	int i;

	for (i = 0; i < l->count && i < 16; i++)
		if (l->d[i].ino == ino)
			return &l->d[i];
	return NULL;
}

/* ---- command line --------------------------------------------------------- */

static int build_add(struct msg *m, int argc, char **argv)
{
	int i = 3;

	msg_init(m, family_id, 0, GRAFT_CMD_EP_ADD);
	put_str(m, GRAFT_A_EP_NAME, argv[1]);
	if (!strcmp(argv[2], "unix")) {
		if (argc < 4)
			return -1;
		put_u8(m, GRAFT_A_EP_TYPE, GRAFT_EP_TYPE_UNIX);
		put_str(m, GRAFT_A_EP_PATH, argv[3]);
		for (i = 4; i < argc && !strcmp(argv[i], "abstract"); i++)
			put_u32(m, GRAFT_A_EP_FLAGS, GRAFT_EP_F_ABSTRACT);
	} else {
		bool v6 = !strcmp(argv[2], "ipv6");
		unsigned char a[16];
		uint32_t flags = 0;

		if (argc < 5 || (!v6 && strcmp(argv[2], "ipv4")))
			return -1;
		if (inet_pton(v6 ? AF_INET6 : AF_INET, argv[3], a) != 1)
			die("bad address %s", argv[3]);
		put_u8(m, GRAFT_A_EP_TYPE, v6 ? GRAFT_EP_TYPE_IPV6 : GRAFT_EP_TYPE_IPV4);
		put_attr(m, GRAFT_A_EP_ADDR, a, v6 ? 16 : 4);
		if (!strcmp(argv[4], "dynamic"))
			flags |= GRAFT_EP_F_DYNAMIC_PORT;
		else
			put_u16(m, GRAFT_A_EP_PORT, atoi(argv[4]));
		for (i = 5; i < argc; i++)
			if (!strcmp(argv[i], "default"))
				flags |= GRAFT_EP_F_DEFAULT;
			else if (!strcmp(argv[i], "reuseport"))
				flags |= GRAFT_EP_F_REUSEPORT;
			else
				break;
		if (flags)
			put_u32(m, GRAFT_A_EP_FLAGS, flags);
	}
	for (; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "pid"))
			put_u32(m, GRAFT_A_EP_NETNS_PID, atoi(argv[i + 1]));
		else
			return -1;
	}
	return i == argc ? 0 : -1;
}

static int report(int ret)
{
	if (ret) {
		fprintf(stderr, "nltest: %s: %s\n", strerror(-ret), last_ext[0] ? last_ext : "(no message)");
		return 1;
	}
	return 0;
}

/* ---- selftest ------------------------------------------------------------ */

static int failures, checks;

#define CHECK(cond, ...) do {						\
	checks++;							\
	if (cond) {							\
		printf("ok   ");					\
	} else {							\
		printf("FAIL ");					\
		failures++;						\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
} while (0)

static void add_args(struct msg *m, const char *line)
{
	char copy[256], *argv[16];
	int argc = 0;
	char *tok;

	snprintf(copy, sizeof(copy), "add %s", line);
	for (tok = strtok(copy, " "); tok && argc < 15; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (build_add(m, argc, argv))
		die("selftest: bad add line %s", line);
}

static void del_msg(struct msg *m, const char *name)
{
	msg_init(m, family_id, 0, GRAFT_CMD_EP_DEL);
	put_str(m, GRAFT_A_EP_NAME, name);
}

static uint64_t fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (uint64_t)st.st_ino;
}

static uint32_t fd_ino_ns(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
}

/* ---- the selftest's table of requests ---------------------------------- */

/* One attribute appended to a request; type 0 ends the list. */
struct nl_attr_spec {
	uint16_t type;
	const void *data;
	uint16_t len;
};

#define A_STR(t, s) { t, s, sizeof(s) }
#define A_BIN(t, s, n) { t, s, n }
#define A_U8(t, v) { t, (const uint8_t[]){ v }, 1 }
#define A_U16(t, v) { t, (const uint16_t[]){ v }, 2 }
#define A_U32(t, v) { t, (const uint32_t[]){ v }, 4 }

enum nl_expect {
	EXPECT_OK,
	EXPECT_REFUSED,		/* errno @err and an extended-ack message */
	EXPECT_CORE,		/* errno @err; the genetlink core gives no message */
	EXPECT_RANGE,		/* EINVAL or ERANGE (by kernel version), a message */
	EXPECT_ANY,		/* some errno, a message */
};

struct nl_case {
	const char *what;
	const char *add;	/* an `nltest add` line, or NULL for ... */
	uint8_t cmd;		/* ... a bare request of this command */
	const char *del;	/* or an EP_DEL of this name */
	struct nl_attr_spec attrs[4];	/* appended in order */
	bool reserved;		/* set genlmsghdr.reserved */
	enum nl_expect expect;
	int err;
};

static const unsigned char a4[4] = { 127, 0, 0, 1 };

#define NAME_X A_STR(GRAFT_A_EP_NAME, "nl-x")
#define TYPE_V4 A_U8(GRAFT_A_EP_TYPE, GRAFT_EP_TYPE_IPV4)
#define TYPE_V6 A_U8(GRAFT_A_EP_TYPE, GRAFT_EP_TYPE_IPV6)
#define ADDR_4 A_BIN(GRAFT_A_EP_ADDR, a4, 4)
#define PORT_1 A_U16(GRAFT_A_EP_PORT, 1)

/* Valid requests: the endpoints the rest of the selftest works with. */
static const struct nl_case setup_cases[] = {
	{ .what = "add ipv4", .add = "nl-a ipv4 127.0.0.1 8080" },
	{ .what = "add ipv6 dynamic default", .add = "nl-b ipv6 ::1 dynamic default" },
	{ .what = "add unix", .add = "nl-c unix /tmp/nl-c.sock" },
	{ .what = "add ipv4 netns pid 1", .add = "nl-d ipv4 127.0.0.1 9 pid 1" },
	{ .what = "add 15-byte name", .add = "123456789012345 ipv4 127.0.0.1 1" },
};

/* The flags each endpoint type takes, added and deleted. */
static const struct nl_case flag_cases[] = {
	{ .what = "add ipv4 reuseport", .add = "nl-f ipv4 127.0.0.1 7 reuseport" },
	{ .what = "add unix abstract", .add = "nl-g unix /tmp/nl-g.sock abstract" },
};

/* Malformed or refused requests: errno and extended-ack message. */
static const struct nl_case refusal_cases[] = {
	{ .what = "duplicate name", .add = "nl-a ipv4 127.0.0.2 8081", .expect = EXPECT_REFUSED, .err = EEXIST },
	{ .what = "missing type attribute", .cmd = GRAFT_CMD_EP_ADD, .attrs = { NAME_X, ADDR_4, PORT_1 },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "missing name attribute", .cmd = GRAFT_CMD_EP_ADD, .attrs = { TYPE_V4, ADDR_4, PORT_1 },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "missing address attribute", .cmd = GRAFT_CMD_EP_ADD, .attrs = { NAME_X, TYPE_V4, PORT_1 },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "16-byte name", .add = "1234567890123456 ipv4 127.0.0.1 1", .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "empty name", .cmd = GRAFT_CMD_EP_ADD,
	  .attrs = { A_STR(GRAFT_A_EP_NAME, ""), TYPE_V4, ADDR_4, PORT_1 },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "ipv4 address of 5 bytes", .cmd = GRAFT_CMD_EP_ADD,
	  .attrs = { NAME_X, TYPE_V4, A_BIN(GRAFT_A_EP_ADDR, "\x7f\0\0\1\0", 5), PORT_1 },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "ipv6 address of 4 bytes", .cmd = GRAFT_CMD_EP_ADD, .attrs = { NAME_X, TYPE_V6, ADDR_4, PORT_1 },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "address of 17 bytes", .cmd = GRAFT_CMD_EP_ADD,
	  .attrs = { NAME_X, TYPE_V6, A_BIN(GRAFT_A_EP_ADDR, "0123456789abcdefg", 17), PORT_1 },
	  .expect = EXPECT_RANGE },
	{ .what = "unknown type 7", .cmd = GRAFT_CMD_EP_ADD,
	  .attrs = { NAME_X, A_U8(GRAFT_A_EP_TYPE, 7), ADDR_4, PORT_1 }, .expect = EXPECT_RANGE },
	{ .what = "unknown flag bit", .add = "nl-x ipv4 127.0.0.1 1", .attrs = { A_U32(GRAFT_A_EP_FLAGS, 1u << 7) },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "port 0 without dynamic flag", .add = "nl-x ipv4 127.0.0.1 0", .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "dynamic flag with a port", .add = "nl-x ipv4 127.0.0.1 dynamic", .attrs = { A_U16(GRAFT_A_EP_PORT, 80) },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "unix endpoint with an address", .add = "nl-x unix /tmp/x", .attrs = { ADDR_4 },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "abstract flag on an ipv4 endpoint", .add = "nl-x ipv4 127.0.0.1 1",
	  .attrs = { A_U32(GRAFT_A_EP_FLAGS, GRAFT_EP_F_ABSTRACT) }, .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "reuseport flag on a unix endpoint", .add = "nl-x unix /tmp/x",
	  .attrs = { A_U32(GRAFT_A_EP_FLAGS, GRAFT_EP_F_REUSEPORT) }, .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "default flag on a unix endpoint", .add = "nl-x unix /tmp/x",
	  .attrs = { A_U32(GRAFT_A_EP_FLAGS, GRAFT_EP_F_DEFAULT) }, .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "unknown attribute type 99", .add = "nl-x ipv4 127.0.0.1 1", .attrs = { A_U32(99, 0) },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	{ .what = "target netns pid 999999", .add = "nl-x ipv4 127.0.0.1 1 pid 999999", .expect = EXPECT_REFUSED, .err = ESRCH },
	{ .what = "netns by pid and fd", .add = "nl-x ipv4 127.0.0.1 1",
	  .attrs = { A_U32(GRAFT_A_EP_NETNS_FD, 0), A_U32(GRAFT_A_EP_NETNS_PID, 1) },
	  .expect = EXPECT_REFUSED, .err = EINVAL },
	/* stdin is no namespace */
	{ .what = "netns fd 0 (not a namespace)", .add = "nl-x ipv4 127.0.0.1 1", .attrs = { A_U32(GRAFT_A_EP_NETNS_FD, 0) },
	  .expect = EXPECT_ANY },
	{ .what = "delete unknown endpoint", .del = "nl-nope", .expect = EXPECT_REFUSED, .err = ENOENT },
	{ .what = "get unknown endpoint", .cmd = GRAFT_CMD_EP_GET, .attrs = { A_STR(GRAFT_A_EP_NAME, "nl-nope") },
	  .expect = EXPECT_REFUSED, .err = ENOENT },
	/* Refused by the genetlink core itself, before the module is asked:
	 * no family can attach a message to an unknown command (see
	 * kernel/README.md), so only the errno is checked. */
	{ .what = "unknown command 42", .cmd = 42, .expect = EXPECT_CORE, .err = EOPNOTSUPP },
	/* Also the core's; 6.1 attaches its own message. */
	{ .what = "non-zero reserved header field", .cmd = GRAFT_CMD_EP_GET,
	  .attrs = { A_STR(GRAFT_A_EP_NAME, "nl-a") }, .reserved = true,
	  .expect = EXPECT_REFUSED, .err = EINVAL },
};

static const struct nl_case cleanup_cases[] = {
	{ .what = "del nl-a", .del = "nl-a" },
	{ .what = "del nl-b", .del = "nl-b" },
	{ .what = "del nl-c", .del = "nl-c" },
	{ .what = "del nl-d", .del = "nl-d" },
	{ .what = "del 15-byte name", .del = "123456789012345" },
};

static void case_build(const struct nl_case *c, struct msg *m)
{
	const struct nl_attr_spec *a;

	if (c->add)
		add_args(m, c->add);
	else if (c->del)
		del_msg(m, c->del);
	else
		msg_init(m, family_id, 0, c->cmd);
	for (a = c->attrs; a < c->attrs + 4 && a->type; a++)
		put_attr(m, a->type, a->data, a->len);
	if (c->reserved)
		((struct genlmsghdr *)NLMSG_DATA(m->nlh))->reserved = 1;
}

static void case_run(const struct nl_case *c)
{
	struct msg m;
	int ret;

	case_build(c, &m);
	ret = nl_request(nl_fd, &m, NULL, NULL);
	switch (c->expect) {
	case EXPECT_OK:
		CHECK(ret == 0, "%-40s -> %s %s", c->what, ret ? strerror(-ret) : "ok", last_ext);
		return;
	case EXPECT_REFUSED:
	case EXPECT_CORE:
		CHECK(ret == -c->err && (c->expect == EXPECT_CORE || last_ext[0]),
		      "%-40s -> %s (want %s), ext-ack \"%s\"", c->what,
		      ret ? strerror(-ret) : "success", strerror(c->err), last_ext);
		return;
	case EXPECT_RANGE:
		CHECK((ret == -EINVAL || ret == -ERANGE) && last_ext[0],
		      "%-40s -> %s (want EINVAL/ERANGE), ext-ack \"%s\"", c->what,
		      ret ? strerror(-ret) : "success", last_ext);
		return;
	case EXPECT_ANY:
		CHECK(ret < 0 && last_ext[0], "%-40s -> %s, ext-ack \"%s\"", c->what,
		      ret ? strerror(-ret) : "success", last_ext);
		return;
	}
}

#define RUN_CASES(table) do {						\
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)	\
		case_run(&table[i]);					\
} while (0)

/* ---- the selftest's other steps ------------------------------------------ */

static int dump_eps(int fd, struct collect *c)
{
	struct msg m;

	memset(c, 0, sizeof(*c));
	msg_init(&m, family_id, NLM_F_DUMP, GRAFT_CMD_EP_GET);
	return nl_request(fd, &m, collect_cb, c);
}

/* The endpoints of setup_cases, as dump and get describe them. */
static void check_descriptions(void)
{
	struct collect c;
	struct msg m;
	int ret;

	ret = dump_eps(nl_fd, &c);
	CHECK(ret == 0 && c.count == 5, "dump lists 5 endpoints (got %d, ret %d)", c.count, ret);
	CHECK(strstr(c.text, "nl-a type ipv4 addr 127.0.0.1 port 8080\n") != NULL, "dump: nl-a in seed format");
	CHECK(strstr(c.text, "nl-b type ipv6 addr ::1 port dynamic default") != NULL, "dump: nl-b dynamic");
	CHECK(strstr(c.text, "nl-c type unix path /tmp/nl-c.sock") != NULL, "dump: nl-c unix");
	CHECK(strstr(c.text, "nl-d type ipv4 addr 127.0.0.1 port 9 netns 1") != NULL, "dump: nl-d reports netns pid");
	printf("%s", c.text);

	memset(&c, 0, sizeof(c));
	msg_init(&m, family_id, 0, GRAFT_CMD_EP_GET);
	put_str(&m, GRAFT_A_EP_NAME, "nl-a");
	ret = nl_request(nl_fd, &m, collect_cb, &c);
	CHECK(ret == 0 && c.count == 1 && !strcmp(c.text, "nl-a type ipv4 addr 127.0.0.1 port 8080\n"),
	      "get nl-a: %s", c.text);
}

/* flag_cases show their flags, then go. */
static void check_flags(void)
{
	struct collect c;
	struct msg m;

	RUN_CASES(flag_cases);
	dump_eps(nl_fd, &c);
	CHECK(strstr(c.text, "nl-f type ipv4 addr 127.0.0.1 port 7 reuseport\n") &&
	      strstr(c.text, "nl-g type unix path /tmp/nl-g.sock abstract\n"),
	      "dump shows the reuseport and abstract flags");
	del_msg(&m, "nl-f");
	CHECK(nl_request(nl_fd, &m, NULL, NULL) == 0, "del nl-f");
	del_msg(&m, "nl-g");
	CHECK(nl_request(nl_fd, &m, NULL, NULL) == 0, "del nl-g");
}

/* Run @fn in a child (after fflush), CHECK that it exited 0. */
static void in_child(const char *what, int (*fn)(void))
{
	int st = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int r = fn();

		fflush(stdout);
		_exit(r);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s (child status %d)", what, st);
}

static int become_nobody(void)
{
	return setgroups(0, NULL) || setgid(65534) || setuid(65534) ? -1 : 0;
}

/* As nobody: add and delete refused with a message; dump allowed. */
static int nobody_requests(void)
{
	struct collect c;
	struct msg m;
	bool add_ok, del_ok;
	int fd, ret;

	if (become_nobody())
		return 3;
	fd = nl_open();
	add_args(&m, "nl-user ipv4 127.0.0.1 1");
	ret = nl_request(fd, &m, NULL, NULL);
	add_ok = ret == -EPERM && !strcmp(last_ext, "adding endpoints needs CAP_NET_ADMIN");
	printf("%s   %-40s -> %s (want %s), ext-ack \"%s\"\n", add_ok ? "ok" : "FAIL",
	       "add as nobody", ret ? strerror(-ret) : "success", strerror(EPERM), last_ext);
	del_msg(&m, "nl-a");
	ret = nl_request(fd, &m, NULL, NULL);
	del_ok = ret == -EPERM && !strcmp(last_ext, "deleting endpoints needs CAP_NET_ADMIN");
	printf("%s   %-40s -> %s (want %s), ext-ack \"%s\"\n", del_ok ? "ok" : "FAIL",
	       "delete as nobody", ret ? strerror(-ret) : "success", strerror(EPERM), last_ext);
	ret = dump_eps(fd, &c);
	printf("%s   %-40s -> %d endpoints\n", ret == 0 && c.count == 5 ? "ok" : "FAIL",
	       "dump as nobody", c.count);
	return add_ok && del_ok && ret == 0 && c.count == 5 ? 0 : 1;
}

/* ---- the socket dump ----------------------------------------------------- */

/* A graft listener on nl-a (127.0.0.1:8080), a plain client, the accepted one. */
struct sock_fixture {
	int lfd, cfd, afd;
	char want_peer[64];
};

static void sock_fixture_open(struct sock_fixture *f)
{
	struct sockaddr_gr sgr = { .sgr_family = AF_GRAFT, .sgr_epname = "nl-a" };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(8080),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in cl;
	socklen_t cllen = sizeof(cl);
	char buf[16];

	f->lfd = socket(AF_GRAFT, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sgr, sizeof(sgr)) || listen(f->lfd, 4))
		die("graft listener on nl-a: %s", strerror(errno));
	f->cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (f->cfd < 0 || connect(f->cfd, (struct sockaddr *)&to, sizeof(to)))
		die("connect 127.0.0.1:8080: %s", strerror(errno));
	f->afd = accept(f->lfd, NULL, NULL);
	if (f->afd < 0)
		die("accept on graft listener: %s", strerror(errno));
	if (write(f->cfd, "hello", 5) != 5 || read(f->afd, buf, sizeof(buf)) != 5 ||
	    write(f->afd, "hi!", 3) != 3)
		die("exchange over the grafted connection: %s", strerror(errno));
	getsockname(f->cfd, (struct sockaddr *)&cl, &cllen);
	snprintf(f->want_peer, sizeof(f->want_peer), "127.0.0.1:%d", ntohs(cl.sin_port));
}

static void sock_dump_check(const struct sock_fixture *f)
{
	struct sock_desc *d;
	struct sock_list l;
	int ret = dump_socks(nl_fd, &l);

	CHECK(ret == 0 && l.count == 2, "sock dump lists 2 graft sockets (got %d, ret %d)", l.count, ret);
	d = find_sock(&l, fd_ino(f->lfd));
	CHECK(d && !strcmp(d->ep, "nl-a") && d->family == AF_INET && d->type == SOCK_STREAM &&
	      d->protocol == IPPROTO_TCP && d->state == 10 && !strcmp(d->local, "127.0.0.1:8080") &&
	      !d->has_peer && d->has_bytes && d->host_ino && d->netns_ino == fd_ino_ns(),
	      "sock dump: listener by inode, nl-a, LISTEN, 127.0.0.1:8080, no peer");
	d = find_sock(&l, fd_ino(f->afd));
	CHECK(d && !strcmp(d->ep, "nl-a") && d->state == 1 && !strcmp(d->local, "127.0.0.1:8080") &&
	      d->has_peer && !strcmp(d->peer, f->want_peer) && d->received == 5 && d->sent == 3,
	      "sock dump: accepted socket ESTAB, peer %s, 3 sent / 5 received", f->want_peer);
	for (int i = 0; i < l.count && i < 16; i++) {
		char line[512];

		sock_format(&l.d[i], line, sizeof(line));
		printf("     %s\n", line);
	}
}

/* In a child: the dump must list @want sockets. */
static int sock_dump_count(const char *what, int want)
{
	struct sock_list l;
	int fd = nl_open(), r = dump_socks(fd, &l);

	printf("%s   %-40s -> %d sockets\n", r == 0 && l.count == want ? "ok" : "FAIL", what, l.count);
	return r == 0 && l.count == want ? 0 : 1;
}

static int sock_dump_as_nobody(void)
{
	return become_nobody() ? 3 : sock_dump_count("sock dump as nobody", 2);
}

static int sock_dump_elsewhere(void)
{
	return unshare(CLONE_NEWNET) ? 3 : sock_dump_count("sock dump in a new namespace", 0);
}

/*
 * GRAFT_CMD_SOCK_GET: the dump must describe both graft sockets of the
 * fixture, to anyone in the namespace, and nothing in another namespace.
 */
static void sock_selftest(void)
{
	struct sock_fixture f;
	struct sock_list l;
	int ret;

	sock_fixture_open(&f);
	sock_dump_check(&f);
	in_child("sock dump as nobody", sock_dump_as_nobody);
	in_child("sock dump lists only its namespace", sock_dump_elsewhere);
	close(f.afd);
	close(f.cfd);
	close(f.lfd);
	ret = dump_socks(nl_fd, &l);
	CHECK(ret == 0 && l.count == 0, "sock dump empty once the sockets are closed (%d)", l.count);
}

static int selftest(void)
{
	struct collect c;
	int ret;

	RUN_CASES(setup_cases);
	check_descriptions();
	check_flags();
	RUN_CASES(refusal_cases);
	in_child("non-root checks", nobody_requests);
	sock_selftest();
	RUN_CASES(cleanup_cases);
	ret = dump_eps(nl_fd, &c);
	CHECK(ret == 0 && c.count == 0, "dump is empty after deletes (%d)", c.count);

	printf("nltest: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct msg m;
	int count = 0;

	if (argc < 2)
		die("usage: nltest add|del|show|get|socks|selftest ...");
	setvbuf(stdout, NULL, _IOLBF, 0);
	nl_fd = nl_open();
	family_id = resolve_family(nl_fd);

	if (!strcmp(argv[1], "selftest"))
		return selftest();
	if (!strcmp(argv[1], "socks"))
		return report(dump_socks(nl_fd, NULL));
	if (!strcmp(argv[1], "show")) {
		msg_init(&m, family_id, NLM_F_DUMP, GRAFT_CMD_EP_GET);
		return report(nl_request(nl_fd, &m, show_cb, &count));
	}
	if (!strcmp(argv[1], "get") && argc == 3) {
		msg_init(&m, family_id, 0, GRAFT_CMD_EP_GET);
		put_str(&m, GRAFT_A_EP_NAME, argv[2]);
		return report(nl_request(nl_fd, &m, show_cb, NULL));
	}
	if (!strcmp(argv[1], "del") && argc == 3) {
		del_msg(&m, argv[2]);
		return report(nl_request(nl_fd, &m, NULL, NULL));
	}
	if (!strcmp(argv[1], "add") && argc >= 4) {
		if (build_add(&m, argc - 1, argv + 1))
			die("usage: nltest add NAME ipv4|ipv6 ADDR PORT|dynamic [default] [reuseport] [pid PID] | add NAME unix PATH [abstract] [pid PID]");
		return report(nl_request(nl_fd, &m, NULL, NULL));
	}
	die("unknown command %s", argv[1]);
	return 2;
}
