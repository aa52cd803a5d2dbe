// SPDX-License-Identifier: GPL-2.0
/*
 * nlfuzz — random and mutated generic netlink messages to the af_graft family.
 *
 *   nlfuzz [-n MESSAGES] [-t SECONDS] [-s SEED] [-u UID]
 *
 * Runs in private network namespaces (a fresh one every few thousand
 * messages, so endpoints die with their namespace while others are being
 * added).  Each message starts from a valid request (EP_ADD of every type,
 * EP_DEL, EP_GET, the two dumps) and is then mutated: command, version,
 * reserved byte, netlink flags, attribute types, lengths and payloads,
 * nesting and byte-order bits, truncated and overlong headers, random bit
 * flips, several messages in one datagram.  Replies are read back and
 * checked for well-formed framing (the kernel must never send a malformed
 * message or an attribute that overruns its message).  With -u the messages
 * are sent as that user (after unshare, without capabilities), so the
 * permission checks are fuzzed too.
 *
 * Prints one summary line; exits 0 when every reply was well formed, 1 when
 * not, 2 on usage errors.
 */
#include "fuzzlib.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>

#define PROG "nlfuzz"
#define NAMES 8

static struct fz_rng rng;
static uint16_t family;
static int nsfds[4];
static unsigned long sent, batches, send_errs, replies, acks_ok, dumps_done;
static unsigned long malformed, by_errno[160];

static const char *pick_name(char *buf)
{
	static const char *odd[] = { "", "x", "012345678901234", "0123456789012345",
				     "with space", "\xff\xfe", "ep/slash" };

	if (fz_one_in(&rng, 6)) {
		const char *s = odd[fz_below(&rng, sizeof(odd) / sizeof(odd[0]))];

		snprintf(buf, 32, "%s", s);
	} else {
		snprintf(buf, 32, "f%u", fz_below(&rng, NAMES));
	}
	return buf;
}

/* A valid-looking request: the starting point of every mutation. */
static void base_request(struct fz_msg *m)
{
	static const uint8_t cmds[] = { GRAFT_CMD_EP_ADD, GRAFT_CMD_EP_ADD, GRAFT_CMD_EP_ADD,
					GRAFT_CMD_EP_DEL, GRAFT_CMD_EP_GET, GRAFT_CMD_EP_GET,
					GRAFT_CMD_SOCK_GET };
	uint8_t cmd = cmds[fz_below(&rng, sizeof(cmds))];
	uint16_t flags = NLM_F_REQUEST | (fz_one_in(&rng, 4) ? 0 : NLM_F_ACK);
	char name[32], path[128];
	uint8_t addr[16];

	if (cmd == GRAFT_CMD_SOCK_GET || (cmd == GRAFT_CMD_EP_GET && fz_one_in(&rng, 2)))
		flags |= NLM_F_DUMP;
	fz_msg_init(m, family, flags, cmd, AF_GRAFT_GENL_VERSION);
	if (flags & NLM_F_DUMP)
		return;
	fz_put_str(m, GRAFT_A_EP_NAME, pick_name(name));
	if (cmd != GRAFT_CMD_EP_ADD)
		return;
	uint8_t type = 1 + fz_below(&rng, 3);

	fz_put_u8(m, GRAFT_A_EP_TYPE, type);
	if (type == GRAFT_EP_TYPE_UNIX) {
		snprintf(path, sizeof(path), "/tmp/nlfuzz-%u.sock", fz_below(&rng, 4));
		fz_put_str(m, GRAFT_A_EP_PATH, path);
	} else {
		fz_bytes(&rng, addr, sizeof(addr));
		if (fz_one_in(&rng, 2))
			memcpy(addr, type == GRAFT_EP_TYPE_IPV4 ? "\x7f\0\0\1" : "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1",
			       type == GRAFT_EP_TYPE_IPV4 ? 4 : 16);
		fz_put(m, GRAFT_A_EP_ADDR, addr, type == GRAFT_EP_TYPE_IPV4 ? 4 : 16);
		if (fz_one_in(&rng, 3))
			fz_put_u32(m, GRAFT_A_EP_FLAGS, fz_below(&rng, 4));
		else
			fz_put_u16(m, GRAFT_A_EP_PORT, 1 + fz_below(&rng, 65535));
	}
	switch (fz_below(&rng, 6)) {
	case 0: fz_put_u32(m, GRAFT_A_EP_NETNS_PID, fz_one_in(&rng, 2) ? 1 : (uint32_t)getpid()); break;
	case 1: fz_put_u32(m, GRAFT_A_EP_NETNS_FD, nsfds[fz_below(&rng, 4)]); break;
	case 2: fz_put_u32(m, GRAFT_A_EP_NETNS_PID, (uint32_t)fz_next(&rng)); break;
	default: break;
	}
}

/* One random attribute, possibly nested, with a random payload. */
static void random_attr(struct fz_msg *m)
{
	static const uint16_t lens[] = { 0, 1, 2, 3, 4, 5, 8, 15, 16, 17, 107, 108, 200 };
	uint8_t data[256];
	uint16_t type = fz_below(&rng, GRAFT_A_MAX + 4);
	size_t len = fz_one_in(&rng, 4) ? fz_below(&rng, sizeof(data)) : lens[fz_below(&rng, sizeof(lens) / 2)];

	if (fz_one_in(&rng, 8))
		type |= NLA_F_NESTED;
	if (fz_one_in(&rng, 16))
		type |= NLA_F_NET_BYTEORDER;
	if ((type & NLA_F_NESTED) && fz_one_in(&rng, 2)) {
		/* A well-framed nest of a few small attributes. */
		struct nlattr *a;
		size_t off = 0, k = fz_below(&rng, 4);

		while (k-- && off + 8 <= sizeof(data)) {
			a = (struct nlattr *)(data + off);
			a->nla_type = fz_below(&rng, GRAFT_A_MAX + 2);
			a->nla_len = NLA_HDRLEN + fz_below(&rng, 5);
			fz_bytes(&rng, data + off + NLA_HDRLEN, 4);
			off += NLA_ALIGN(a->nla_len);
		}
		len = off;
	} else {
		fz_bytes(&rng, data, len);
		if (len && fz_one_in(&rng, 2))
			data[len - 1] = 0; /* a string-like payload */
	}
	fz_put(m, type, data, len);
}

/* Damage the message in one of many ways. */
static size_t mutate(struct fz_msg *m)
{
	struct genlmsghdr *g = NLMSG_DATA(m->nlh);
	size_t len = m->nlh->nlmsg_len, k;

	switch (fz_below(&rng, 14)) {
	case 0: g->cmd = fz_below(&rng, 2) ? fz_below(&rng, 8) : (uint8_t)fz_next(&rng); break;
	case 1: g->version = (uint8_t)fz_next(&rng); break;
	case 2: g->reserved = (uint16_t)fz_next(&rng); break;
	case 3: m->nlh->nlmsg_flags ^= 1u << fz_below(&rng, 16); break;
	case 4: m->nlh->nlmsg_flags = (uint16_t)fz_next(&rng) | NLM_F_REQUEST; break;
	case 5: case 6:
		for (k = 1 + fz_below(&rng, 4); k; k--)
			random_attr(m);
		len = m->nlh->nlmsg_len;
		break;
	case 7: /* shorter or longer than what is sent */
		m->nlh->nlmsg_len = fz_one_in(&rng, 2) ? fz_below(&rng, len + 1) : len + fz_below(&rng, 64);
		break;
	case 8: /* send fewer bytes than the header says */
		len = fz_below(&rng, len + 1);
		break;
	case 9: /* the first attribute's length */
		if (len > NLMSG_LENGTH(GENL_HDRLEN) + 2) {
			struct nlattr *a = (struct nlattr *)((char *)g + GENL_HDRLEN);

			a->nla_len = fz_one_in(&rng, 2) ? fz_below(&rng, 8) : (uint16_t)fz_next(&rng);
		}
		break;
	case 10: case 11: /* bit flips anywhere after the netlink header */
		for (k = 1 + fz_below(&rng, 8); k; k--) {
			size_t at = sizeof(struct nlmsghdr) + fz_below(&rng, len - sizeof(struct nlmsghdr));

			m->buf[at] ^= 1 << fz_below(&rng, 8);
		}
		break;
	case 12: /* trailing garbage past the last attribute */
		k = fz_below(&rng, 7);
		if (len + k < sizeof(m->buf)) {
			fz_bytes(&rng, m->buf + len, k);
			len += k;
			m->nlh->nlmsg_len = len;
		}
		break;
	default: break; /* unmutated: keeps real endpoints coming and going */
	}
	return len;
}

static void count_error(int err)
{
	if (err == 0)
		acks_ok++;
	else if (-err > 0 && -err < 160)
		by_errno[-err]++;
	else
		malformed++;
}

/* Checks the framing of every reply in buf and tallies acks and errors. */
static void check_replies(const char *buf, ssize_t n)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

	for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		replies++;
		if (h->nlmsg_type == NLMSG_ERROR) {
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				malformed++;
			else
				count_error(((const struct nlmsgerr *)NLMSG_DATA(h))->error);
			continue;
		}
		if (h->nlmsg_type == NLMSG_DONE) {
			dumps_done++;
			continue;
		}
		if (h->nlmsg_type != family || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) {
			malformed++;
			continue;
		}
		int left = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
		const struct nlattr *a = (const struct nlattr *)((const char *)NLMSG_DATA(h) + GENL_HDRLEN);

		while (left >= NLA_HDRLEN) {
			if (a->nla_len < NLA_HDRLEN || a->nla_len > left) {
				malformed++;
				break;
			}
			left -= NLA_ALIGN(a->nla_len);
			a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len));
		}
	}
	if (n > 0)
		malformed++; /* a partial message at the end */
}

static void drain(int fd, int wait_ms)
{
	static char buf[65536];
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, wait_ms) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == ENOBUFS) /* dumps outran us: not the kernel's fault */
				continue;
			break;
		}
		check_replies(buf, n);
		wait_ms = 0;
	}
}

/* A fresh private namespace with its own netlink socket. */
static int new_namespace(int old)
{
	int fd;

	if (old >= 0)
		close(old);
	if (unshare(CLONE_NEWNET))
		fz_die(PROG, "unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = fz_nl_open();
	if (fd < 0)
		fz_die(PROG, "netlink socket: %s", strerror(errno));
	int big = 1 << 20;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

static void send_one(int fd)
{
	struct fz_msg m[3];
	char out[3 * sizeof(m[0].buf)];
	size_t total = 0;
	int k, parts = fz_one_in(&rng, 10) ? 2 + fz_below(&rng, 2) : 1;

	for (k = 0; k < parts; k++) {
		base_request(&m[k]);
		m[k].nlh->nlmsg_seq = (uint32_t)sent + k;
		size_t len = mutate(&m[k]);

		memcpy(out + total, m[k].buf, len);
		total += k + 1 < parts ? NLMSG_ALIGN(len) : len;
	}
	sent += parts;
	batches++;
	if (send(fd, out, total, MSG_DONTWAIT) < 0)
		send_errs++;
}

static void usage(void)
{
	fprintf(stderr, "usage: nlfuzz [-n MESSAGES] [-t SECONDS] [-s SEED] [-u UID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long max = 100000;
	double secs = 600, t0;
	uint64_t seed = (uint64_t)time(NULL);
	long uid = -1;
	int opt, fd, i;

	while ((opt = getopt(argc, argv, "n:t:s:u:")) != -1) {
		switch (opt) {
		case 'n': max = strtoul(optarg, NULL, 0); break;
		case 't': secs = atof(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'u': uid = strtol(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (optind != argc || !max || secs <= 0)
		usage();
	fz_seed(&rng, seed);
	signal(SIGPIPE, SIG_IGN);
	fd = new_namespace(-1);
	family = fz_family(fd);
	if (!family)
		fz_die(PROG, "generic netlink family %s not found (module not loaded?)", AF_GRAFT_GENL_NAME);
	nsfds[0] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	nsfds[1] = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
	nsfds[2] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	nsfds[3] = 9999;
	if (uid >= 0 && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
		fz_die(PROG, "dropping to uid %ld: %s", uid, strerror(errno));
	t0 = fz_now();
	unsigned long next_ns = 2000 + fz_below(&rng, 3000);

	while (sent < max && fz_now() - t0 < secs) {
		send_one(fd);
		drain(fd, 0);
		if (sent >= next_ns && uid < 0) {
			drain(fd, 20);
			fd = new_namespace(fd);
			next_ns = sent + 2000 + fz_below(&rng, 3000);
		}
	}
	drain(fd, 200);
	printf("nlfuzz: seed %llu%s: %lu messages in %lu datagrams, %.1f s; %lu replies: %lu ok, %lu dumps;",
	       (unsigned long long)seed, uid >= 0 ? " (unprivileged)" : "", sent, batches,
	       fz_now() - t0, replies, acks_ok, dumps_done);
	for (i = 1; i < 160; i++)
		if (by_errno[i])
			printf(" %s %lu", strerrorname_np(i) ? strerrorname_np(i) : "E?", by_errno[i]);
	printf("; send refused %lu; malformed replies %lu\n", send_errs, malformed);
	return malformed ? 1 : 0;
}
