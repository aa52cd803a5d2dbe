/* SPDX-License-Identifier: MIT */
/*
 * graft broker wire protocol, version 1.
 *
 * The broker (`graft daemon`) listens on a SOCK_SEQPACKET Unix socket,
 * /run/graft/graft.sock by default (GRAFT_SOCKET overrides it). Every request
 * and every reply is exactly one packet that starts with struct graft_hdr.
 * All integers are in host byte order (both ends run on the same machine).
 * One connection may carry any number of request/reply pairs, in order.
 *
 * GRAFT_OP_SOCKET (the preload library asks for a grafted socket)
 *   request:  struct graft_sock_req followed by nopts struct graft_sockopt.
 *             The broker finds endpoint `ep` among the endpoints of the
 *             *caller's* network namespace (the one its socket was created
 *             in, SO_NETNS_COOKIE; never from the request), creates a socket of `type`/`protocol` in the
 *             endpoint's target namespace, applies the options in order,
 *             binds it to the endpoint's address (port: the endpoint's, or
 *             `port` when the endpoint's port is dynamic) and replies.
 *   reply:    struct graft_sock_resp; when status is 0 exactly one file
 *             descriptor (the bound socket) rides along as SCM_RIGHTS.
 *             status is a positive errno otherwise and `msg` says why in
 *             words, naming the endpoint.
 *
 * GRAFT_OP_SOCKETS (several client sockets at once, for the preload's pool)
 *   request:  struct graft_socks_req (no socket options: req.nopts is 0).
 *             Only for an ipv4/ipv6 endpoint with `port dynamic`, asked for
 *             port 0 and SOCK_STREAM: the broker binds `count` sockets to
 *             the endpoint's address with IP_BIND_ADDRESS_NO_PORT (the port
 *             is chosen by connect(), so nothing is reserved) and replies
 *             with struct graft_sock_resp and up to `count` descriptors
 *             (fewer if it stopped early). Any other endpoint: EINVAL.
 *
 * GRAFT_OP_EP_ADD, GRAFT_OP_EP_DEL, GRAFT_OP_EP_LIST, GRAFT_OP_STATUS,
 * GRAFT_OP_MAP_ADD, GRAFT_OP_MAP_DEL, GRAFT_OP_MAP_LIST, GRAFT_OP_GC
 *   (the graft command manages endpoints and a namespace's default
 *   mappings; GC forgets the state of namespaces that no longer exist)
 *   request:  struct graft_hdr followed by a UTF-8 JSON object (see
 *             docs/broker-protocol.md). The request may carry up to two file
 *             descriptors: the namespace to act in (only honoured for an
 *             administrator: CAP_NET_ADMIN) and the endpoint's target namespace.
 *   reply:    struct graft_hdr followed by a UTF-8 JSON object.
 *
 * A packet with a wrong magic, an unknown version or a truncated body gets a
 * reply with status EPROTO (or EINVAL) when the header was readable, and the
 * connection is closed otherwise.
 */
#ifndef GRAFT_PROTO_H
#define GRAFT_PROTO_H

#include <stdint.h>

#define GRAFT_PROTO_MAGIC 0x54465247u /* "GRFT" in memory on little endian */
#define GRAFT_PROTO_VERSION 1
#define GRAFT_EPNAME_MAX 16 /* including the NUL: names are 1..15 bytes */
#define GRAFT_SOCKOPT_VAL_MAX 32
#define GRAFT_SOCKOPT_MAX 32
#define GRAFT_MSG_MAX 128
#define GRAFT_SOCKETS_MAX 32 /* descriptors in one GRAFT_OP_SOCKETS reply */
#define GRAFT_PACKET_MAX 65536
#define GRAFT_DEFAULT_SOCKET "/run/graft/graft.sock"

enum graft_op {
	GRAFT_OP_SOCKET = 1,
	GRAFT_OP_EP_ADD = 2,
	GRAFT_OP_EP_DEL = 3,
	GRAFT_OP_EP_LIST = 4,
	GRAFT_OP_STATUS = 5,
	GRAFT_OP_SOCKETS = 6,
	GRAFT_OP_MAP_ADD = 7,
	GRAFT_OP_MAP_DEL = 8,
	GRAFT_OP_MAP_LIST = 9,
	GRAFT_OP_GC = 10,
	__GRAFT_OP_LAST
};
#define GRAFT_OP_MAX (__GRAFT_OP_LAST - 1)

struct graft_hdr {
	uint32_t magic;   /* GRAFT_PROTO_MAGIC */
	uint16_t version; /* GRAFT_PROTO_VERSION */
	uint16_t op;      /* enum graft_op; replies echo the request's op */
	uint32_t len;     /* whole packet, header included */
	uint32_t seq;     /* chosen by the client, echoed in the reply */
};                        /* 16 bytes */

struct graft_sockopt {
	int32_t level;
	int32_t name;
	uint32_t len; /* bytes used in val, 1..GRAFT_SOCKOPT_VAL_MAX */
	uint8_t val[GRAFT_SOCKOPT_VAL_MAX];
};                    /* 44 bytes */

struct graft_sock_req {
	struct graft_hdr hdr;
	char ep[GRAFT_EPNAME_MAX]; /* NUL-terminated endpoint name */
	int32_t family;            /* the application's family: AF_INET or AF_INET6 */
	int32_t type;              /* SOCK_STREAM or SOCK_DGRAM, no flag bits */
	int32_t protocol;          /* as given to socket() */
	uint16_t port;             /* port the application asked for (host order) */
	uint16_t nopts;            /* struct graft_sockopt entries that follow */
};                                 /* 48 bytes, then nopts * 44 bytes */

struct graft_socks_req {
	struct graft_sock_req req; /* req.hdr.op = GRAFT_OP_SOCKETS, req.nopts = 0 */
	uint32_t count;            /* 1..GRAFT_SOCKETS_MAX */
	uint32_t reserved;         /* 0 */
};                                 /* 56 bytes */

struct graft_sock_resp {
	struct graft_hdr hdr;
	int32_t status;          /* 0, or a positive errno */
	int32_t family;          /* family of the passed socket */
	uint32_t addrlen;        /* bytes used in addr */
	uint8_t addr[128];       /* the address the socket was bound to */
	char msg[GRAFT_MSG_MAX]; /* NUL-terminated reason when status != 0 */
};                               /* 284 bytes */

#endif /* GRAFT_PROTO_H */
