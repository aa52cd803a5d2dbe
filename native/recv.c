/* SPDX-License-Identifier: MIT */
/*
 * Reading one request packet from a client: its bytes into the caller's
 * buffer, the descriptors that rode along (all of them, so none leaks), and,
 * when asked, how much of the broker's last reply the client has not read
 * yet (SO_MEMINFO's send-side count on our end), in one call.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>

#include "graft_native.h"

#define GN_EXPORT __attribute__((visibility("default")))

int32_t gn_unread(int32_t fd)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mem);

	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 ||
	    len <= SK_MEMINFO_WMEM_ALLOC * sizeof(uint32_t))
		return -1;
	return (int32_t)mem[SK_MEMINFO_WMEM_ALLOC];
}

GN_EXPORT int32_t graft_recv_packet(int32_t fd, uint8_t *buf, uint32_t cap, int32_t *meta,
				    int32_t want_unread)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(GN_SOCKETS_MAX * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	ssize_t n;
	int nfds = 0;

	memset(meta, 0, GN_RECV_META * sizeof(*meta));
	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nfds < GN_SOCKETS_MAX; i++)
			memcpy(&meta[GN_RECV_FDS + nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	meta[0] = (int32_t)n;
	meta[1] = mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC);
	meta[2] = nfds;
	if (want_unread) {
		int32_t unread = gn_unread(fd);

		meta[3] = unread > 0 ? unread : 0;
	}
	return (int32_t)n;
}
