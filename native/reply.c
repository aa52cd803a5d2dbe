/* SPDX-License-Identifier: MIT */
/*
 * The reply to a GRAFT_OP_SOCKET(S) request that succeeded: struct
 * graft_sock_resp (preload/graft_proto.h) with the sockets as SCM_RIGHTS,
 * sent without blocking. graft_send_reply() closes the broker's copies
 * whatever happens; the fast path (fast.c) keeps a spare it could not send.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "graft_native.h"

/* Close the broker's copies: one close_range() when the numbers run
 * consecutively, as a batch's usually do (a system call per socket saved). */
static void close_sent(const int *fds, int n)
{
	bool run = n > 1;

	for (int i = 1; run && i < n; i++)
		run = fds[i] == fds[0] + i;
	if (run && close_range((unsigned)fds[0], (unsigned)fds[n - 1], 0) == 0)
		return;
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

int graft_send_sock_resp(int fd, uint16_t op, uint32_t seq, int32_t family, const uint8_t *addr,
			 uint32_t addrlen, const int32_t *fds, int n)
{
	struct graft_sock_resp resp;
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(GN_SOCKETS_MAX * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = &resp, .iov_len = sizeof(resp) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t fdlen = (size_t)n * sizeof(int);
	struct cmsghdr *c;

	memset(&resp, 0, sizeof(resp));
	resp.hdr.magic = GRAFT_PROTO_MAGIC;
	resp.hdr.version = GRAFT_PROTO_VERSION;
	resp.hdr.op = op;
	resp.hdr.len = sizeof(resp);
	resp.hdr.seq = seq;
	resp.family = family;
	resp.addrlen = addrlen;
	memcpy(resp.addr, addr, addrlen);
	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE(fdlen);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(fdlen);
	memcpy(CMSG_DATA(c), fds, fdlen);
	return sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? errno : 0;
}

int graft_send_reply(const struct gn_plan *p, struct gn_result *r)
{
	r->sent = graft_send_sock_resp(p->reply_fd, (uint16_t)p->op, p->seq, p->family, r->addr,
				       r->addrlen, r->fds, r->made);
	close_sent(r->fds, r->made);
	return r->sent;
}
