/* SPDX-License-Identifier: MIT */
/*
 * graft_reply.h — receiving a GRAFT_OP_SOCKET(S) reply: the response and
 * the SCM_RIGHTS control message with up to GRAFT_SOCKETS_MAX descriptors.
 * Shared by libgraft (broker.c) and bench/brokerrt.c, which speaks the same
 * protocol without libgraft around it.
 */
#ifndef GRAFT_REPLY_H
#define GRAFT_REPLY_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "graft_proto.h"

struct graft_reply {
	union {
		struct graft_sock_resp resp;
		uint8_t raw[1024];
	} u;
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(GRAFT_SOCKETS_MAX * sizeof(int))];
	} ctl;
	struct iovec iov;
	struct msghdr mh;
};

/* Zero the buffers and point mh at them; pass &r->mh to recvmsg(). */
static inline void graft_reply_init(struct graft_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->iov.iov_base = &r->u;
	r->iov.iov_len = sizeof(r->u);
	r->mh.msg_iov = &r->iov;
	r->mh.msg_iovlen = 1;
	r->mh.msg_control = r->ctl.buf;
	r->mh.msg_controllen = sizeof(r->ctl.buf);
}

/*
 * The descriptors that came with the reply: up to `max` into fds (their
 * number is returned), any beyond closed with close_fn so none leaks.
 */
static inline int graft_reply_fds(struct msghdr *mh, int *fds, int max,
				  int (*close_fn)(int))
{
	struct cmsghdr *c;
	int got = 0;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
			if (got < max)
				fds[got++] = f;
			else
				close_fn(f);
		}
	}
	return got;
}

#endif /* GRAFT_REPLY_H */
