/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_GRAFT user API.  (Skeleton: the kernel work owns and extends this file;
 * the constants below are the contract the preload library relies on.)
 */
#ifndef _UAPI_AF_GRAFT_H
#define _UAPI_AF_GRAFT_H

#include <linux/types.h>
#include <linux/socket.h>

/* AF_GRAFT reuses AF_IPX's number, which current kernels no longer implement. */
#define AF_GRAFT 4
#define PF_GRAFT AF_GRAFT

#define AF_GRAFT_EPNAME_MAX 16 /* including the NUL: names are 1..15 bytes */

struct sockaddr_gr {
	__kernel_sa_family_t sgr_family;       /* AF_GRAFT */
	char sgr_epname[AF_GRAFT_EPNAME_MAX]; /* NUL-terminated endpoint name */
};

#define AF_GRAFT_GENL_NAME "af_graft"
#define AF_GRAFT_GENL_VERSION 1

#endif /* _UAPI_AF_GRAFT_H */
