/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the fuzzers (nlfuzz, sockfuzz): a seeded random generator, a
 * clock, and just enough generic netlink to find the af_graft family and
 * add or delete endpoints.
 */
#ifndef GRAFT_FUZZLIB_H
#define GRAFT_FUZZLIB_H

#define _GNU_SOURCE
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uapi/af_graft.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

static void fz_die(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* xorshift64*: small, fast, and the same sequence for the same seed. */
struct fz_rng {
	uint64_t s;
};

static inline void fz_seed(struct fz_rng *r, uint64_t seed)
{
	r->s = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	if (!r->s)
		r->s = 1;
}

static inline uint64_t fz_next(struct fz_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

/* A number in [0, n). */
static inline uint32_t fz_below(struct fz_rng *r, uint32_t n)
{
	return n ? (uint32_t)(fz_next(r) % n) : 0;
}

/* True with probability 1/n. */
static inline int fz_one_in(struct fz_rng *r, uint32_t n)
{
	return fz_below(r, n) == 0;
}

static inline void fz_bytes(struct fz_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len--)
		*p++ = (uint8_t)fz_next(r);
}

static inline double fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- a minimal generic netlink writer ---------------------------------- */

struct fz_msg {
	char buf[8192];
	struct nlmsghdr *nlh;
};

static inline void fz_msg_init(struct fz_msg *m, uint16_t type, uint16_t flags,
			       uint8_t cmd, uint8_t version)
{
	struct genlmsghdr *g;

	memset(m->buf, 0, sizeof(struct nlmsghdr) + GENL_HDRLEN);
	m->nlh = (struct nlmsghdr *)m->buf;
	m->nlh->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nlh->nlmsg_type = type;
	m->nlh->nlmsg_flags = flags;
	g = NLMSG_DATA(m->nlh);
	g->cmd = cmd;
	g->version = version;
}

/* Appends an attribute; returns 0, or -1 when it does not fit. */
static inline int fz_put(struct fz_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(m->nlh->nlmsg_len);
	struct nlattr *a = (struct nlattr *)(m->buf + off);

	if (off + NLA_HDRLEN + NLA_ALIGN(len) > sizeof(m->buf))
		return -1;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	m->nlh->nlmsg_len = off + NLA_ALIGN(a->nla_len);
	return 0;
}

static inline int fz_put_str(struct fz_msg *m, uint16_t type, const char *s)
{
	return fz_put(m, type, s, strlen(s) + 1);
}

static inline int fz_put_u8(struct fz_msg *m, uint16_t t, uint8_t v) { return fz_put(m, t, &v, 1); }
static inline int fz_put_u16(struct fz_msg *m, uint16_t t, uint16_t v) { return fz_put(m, t, &v, 2); }
static inline int fz_put_u32(struct fz_msg *m, uint16_t t, uint32_t v) { return fz_put(m, t, &v, 4); }

static inline int fz_nl_open(void)
{
	int one = 1;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends m (with NLM_F_REQUEST | NLM_F_ACK) and reads until its ack:
 * returns 0 or a negative errno.  Any other reply is skipped.
 */
static inline int fz_nl_call(int fd, struct fz_msg *m)
{
	static uint32_t seq = 1;
	char buf[16384];
	uint32_t want = seq++;

	m->nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	m->nlh->nlmsg_seq = want;
	if (send(fd, m->buf, m->nlh->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq == want && h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

/* The af_graft family's id, or 0 when the module is not loaded. */
static inline uint16_t fz_family(int fd)
{
	struct fz_msg m;
	char buf[8192];
	ssize_t n;
	struct nlmsghdr *h;

	fz_msg_init(&m, GENL_ID_CTRL, NLM_F_REQUEST, CTRL_CMD_GETFAMILY, 1);
	fz_put_str(&m, CTRL_ATTR_FAMILY_NAME, AF_GRAFT_GENL_NAME);
	if (send(fd, m.buf, m.nlh->nlmsg_len, 0) < 0)
		return 0;
	n = recv(fd, buf, sizeof(buf), 0);
	for (h = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct nlattr *a;
		int len;

		if (h->nlmsg_type != GENL_ID_CTRL)
			continue;
		len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
		a = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
		for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
		     len -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
			if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID)
				return *(uint16_t *)((char *)a + NLA_HDRLEN);
	}
	return 0;
}

#endif /* GRAFT_FUZZLIB_H */
