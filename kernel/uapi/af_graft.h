/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_GRAFT user API.
 *
 * Sockets
 * -------
 * socket(AF_GRAFT, SOCK_STREAM or SOCK_DGRAM, protocol) creates a graft
 * socket in the caller's network namespace; protocol is 0, IPPROTO_TCP
 * (stream) or IPPROTO_UDP (datagram), anything else EPROTONOSUPPORT.
 * bind() with a struct sockaddr_gr naming an endpoint *of the caller's
 * namespace* creates the real ("host") socket in the endpoint's target
 * namespace, with the endpoint's family (AF_INET, AF_INET6 or AF_UNIX), the
 * graft socket's type and protocol (0 for AF_UNIX), applies every option set
 * before bind() in order, and binds it to the endpoint's address.  The host
 * socket is a user socket created with the caller's credentials, as if the
 * caller had called socket() in the target namespace (LSM and cgroup-BPF
 * hooks apply; after close() it retransmits what is unacknowledged, as any
 * socket does).  An unknown endpoint name fails with
 * EADDRNOTAVAIL.  From then on every operation is forwarded to the host
 * socket; accept() returns graft sockets wrapping the accepted host sockets.
 *
 * connect() or sendto() on an unbound graft socket binds it implicitly to the
 * endpoint carrying GRAFT_EP_F_DEFAULT whose family matches the destination
 * address (AF_INET or AF_INET6); without such an endpoint they fail with
 * EDESTADDRREQ.  listen() on an unbound socket fails with EINVAL, other
 * operations with ENOTCONN.
 *
 * ioctl(): SIOCINQ (FIONREAD), SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK and
 * SIOCGSTAMP[NS] are answered by the host socket; every other request is
 * the socket layer's, in the graft socket's own namespace (so interface,
 * route and ARP requests never reach the target namespace).
 *
 * A graft socket bound through a unix endpoint may connect() or sendto() an
 * abstract address (of the target namespace) only if the endpoint has
 * GRAFT_EP_F_ABSTRACT (EPERM otherwise).  SO_REUSEPORT (or GRAFT_REUSEPORT)
 * needs an endpoint with GRAFT_EP_F_REUSEPORT, unless the kernel picks the
 * host socket's port (a GRAFT_EP_F_DYNAMIC_PORT endpoint and no
 * GRAFT_PORT_HINT: a client's ephemeral port joins no group on purpose);
 * otherwise bind() fails with EPERM, and so does setting it once bound.
 * Kernels before 6.2 refuse setsockopt(SOL_SOCKET, SO_REUSEPORT) on AF_GRAFT
 * sockets themselves (EOPNOTSUPP): use GRAFT_REUSEPORT there.
 *
 * A socket whose last IPV6_V6ONLY set before bind() is non-zero refuses
 * IPv4 traffic: binding it to an ipv4 endpoint (explicitly or implicitly)
 * fails with EADDRNOTAVAIL.  On an ipv6 endpoint the option is replayed, so
 * the host socket keeps it.
 *
 * getsockname() returns a struct sockaddr_gr with the endpoint name, unless
 * GRAFT_NAME_TRANSPARENT is on, in which case it returns the host socket's
 * address.  getpeername() and the address filled in by accept()/recvfrom()
 * are always the host socket's peer (AF_INET, AF_INET6 or AF_UNIX).
 *
 * Socket options: SOL_SOCKET and protocol levels are stored while the socket
 * is unbound and replayed at bind() (an option the host family does not know,
 * ENOPROTOOPT, is skipped; any other failure fails the bind()), and forwarded
 * once bound.  getsockopt(SOL_SOCKET, ...) is answered by the kernel's socket
 * layer from the graft socket itself (SO_ERROR mirrors the host socket's
 * pending error); other levels are forwarded.
 *
 * SOL_GRAFT options (int values):
 *   GRAFT_NAME_TRANSPARENT  0 (default) or 1, see getsockname() above.
 *                           Inherited by accepted sockets.
 *   GRAFT_PORT_HINT         0..65535, host byte order.  When the endpoint's
 *                           port is dynamic, bind the host socket to this
 *                           port; 0 (default) means an ephemeral port (for
 *                           a stream socket chosen by connect() or listen(),
 *                           IP_BIND_ADDRESS_NO_PORT: until then the host
 *                           socket shows port 0).
 *   GRAFT_REUSEPORT         0 (default) or 1: SO_REUSEPORT, with its policy
 *                           (above), for kernels whose socket layer refuses
 *                           SO_REUSEPORT on AF_GRAFT sockets; both set and
 *                           read the same state.
 *
 * Endpoints and the generic netlink family
 * ----------------------------------------
 * Endpoints live per network namespace and are managed through the generic
 * netlink family AF_GRAFT_GENL_NAME ("af_graft"), which works in every
 * namespace (netnsok) and acts on the namespace of the netlink socket.
 * Requests must have genlmsghdr.reserved == 0; attributes are validated
 * strictly (unknown attributes, and the GRAFT_A_SOCK_* reply attributes,
 * are refused) and every refusal carries an extended-ack message, except an
 * unknown command (EOPNOTSUPP), which the genetlink core refuses before the
 * family sees the request.  A non-zero reserved field (EINVAL) is refused by
 * the core too, with the core's message on 6.1 and later.
 *
 * GRAFT_CMD_EP_ADD (needs CAP_NET_ADMIN in the initial user namespace;
 * otherwise EPERM with an extended-ack message)
 *   GRAFT_A_EP_NAME       required, NUL-terminated string, 1..15 bytes
 *   GRAFT_A_EP_TYPE       required, u8, enum graft_ep_type
 *   GRAFT_A_EP_ADDR       ipv4/ipv6: required, binary, exactly 4 or 16 bytes,
 *                         network byte order
 *   GRAFT_A_EP_PORT       ipv4/ipv6: u16, host byte order, 1..65535;
 *                         required unless GRAFT_EP_F_DYNAMIC_PORT is set
 *                         (then absent or 0)
 *   GRAFT_A_EP_FLAGS      optional u32, GRAFT_EP_F_*; unknown bits refused,
 *                         and so are the bits of the other type (DYNAMIC_PORT,
 *                         DEFAULT and REUSEPORT are ipv4/ipv6 ones, ABSTRACT
 *                         a unix one)
 *   GRAFT_A_EP_PATH       unix: required, NUL-terminated string, 1..107 bytes
 *   GRAFT_A_EP_NETNS_PID  optional u32: target namespace is that process's
 *   GRAFT_A_EP_NETNS_FD   optional u32: target namespace is this open
 *                         namespace file (at most one of PID and FD; neither
 *                         means the initial namespace).  A target other than
 *                         the endpoint's own namespace also needs
 *                         CAP_SYS_ADMIN over it (its user namespace), what
 *                         setns() would need; otherwise EPERM.
 *   Errors: EEXIST (name taken), ENOSPC (too many endpoints), EINVAL.
 *
 * GRAFT_CMD_EP_DEL (needs CAP_NET_ADMIN, as EP_ADD)
 *   GRAFT_A_EP_NAME       required.  ENOENT if there is no such endpoint.
 *   Sockets already bound through the endpoint are not affected.
 *
 * GRAFT_CMD_EP_GET
 *   doit:   GRAFT_A_EP_NAME required; replies with one GRAFT_CMD_EP_GET
 *           message describing the endpoint (ENOENT if none).
 *   dumpit: (NLM_F_DUMP, no attributes) one message per endpoint.
 *   A description carries NAME, TYPE, FLAGS, then ADDR and PORT (ipv4/ipv6;
 *   PORT is 0 for dynamic endpoints) or PATH (unix), NETNS_PID if a PID was
 *   given at add time, and GRAFT_A_EP_NETNSID (s32) when the target is not
 *   the initial namespace (the default, which is never reported, so that an
 *   endpoint added without a namespace shows without one): the target's
 *   nsid as seen from the endpoint's namespace, allocated on demand as
 *   `ip link` does (an endpoint targeting its own namespace gets that
 *   namespace's id for itself).
 *
 * GRAFT_CMD_SOCK_GET (dumpit only; no permission needed, like ss)
 *   One message per bound graft socket living in the netlink socket's
 *   namespace (only that namespace is ever listed).  Takes no attributes
 *   (valid ones are ignored).  Each message carries:
 *   GRAFT_A_SOCK_INODE        u64: the graft socket's inode, as shown by
 *                             /proc/PID/fd/N -> socket:[INODE] of its holder
 *   GRAFT_A_EP_NAME           the endpoint it was bound through
 *   GRAFT_A_SOCK_FAMILY       u16: the host socket's AF_INET, AF_INET6, AF_UNIX
 *   GRAFT_A_SOCK_TYPE         u16: SOCK_STREAM or SOCK_DGRAM
 *   GRAFT_A_SOCK_PROTOCOL     u16: the host socket's protocol (IPPROTO_TCP...)
 *   GRAFT_A_SOCK_STATE        u8: the host socket's state, TCP_* numbering
 *                             (TCP_LISTEN 10, TCP_ESTABLISHED 1, TCP_CLOSE 7
 *                             for unconnected datagram sockets)
 *   GRAFT_A_SOCK_NETNS_INO    u32: inode of the host socket's namespace, as
 *                             /proc/PID/ns/net -> net:[INODE] shows it
 *   GRAFT_A_SOCK_HOST_INODE   u64: the host socket's inode, as sock_diag
 *                             reports it in that namespace
 *   GRAFT_A_SOCK_LOCAL        binary: the host socket's address, a struct
 *                             sockaddr_in, sockaddr_in6 or sockaddr_un
 *   GRAFT_A_SOCK_PEER         binary: the host socket's peer, same format;
 *                             absent when not connected
 *   GRAFT_A_SOCK_BYTES_SENT, GRAFT_A_SOCK_BYTES_RECEIVED
 *                             u64, TCP only: payload bytes sent
 *                             (retransmissions included) and received, as
 *                             tcp_info's tcpi_bytes_sent/tcpi_bytes_received
 *   u64 attributes may be preceded by GRAFT_A_UNSPEC padding.  A socket
 *   bound or released during a multi-part dump may be missed or repeated;
 *   parts that saw the list change carry NLM_F_DUMP_INTR.
 *
 * Deleting a namespace frees its endpoints.  An endpoint holds a reference
 * on its target namespace, and so does every bound graft socket.
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

/* Socket option level, SOL_IPX's number. */
#define SOL_GRAFT 256
#define GRAFT_NAME_TRANSPARENT 5 /* same number as the original AF_GRAFT */
#define GRAFT_PORT_HINT 6
#define GRAFT_REUSEPORT 7

/* The module's version, as /sys/module/af_graft/version shows it. */
#define AF_GRAFT_VERSION "0.1.0"

#define AF_GRAFT_GENL_NAME "af_graft"
#define AF_GRAFT_GENL_VERSION 1

enum graft_cmd {
	GRAFT_CMD_UNSPEC,
	GRAFT_CMD_EP_ADD,	/* 1 */
	GRAFT_CMD_EP_DEL,	/* 2 */
	GRAFT_CMD_EP_GET,	/* 3 */
	GRAFT_CMD_SOCK_GET,	/* 4 */
	__GRAFT_CMD_LAST
};
#define GRAFT_CMD_MAX (__GRAFT_CMD_LAST - 1)

enum graft_attr {
	GRAFT_A_UNSPEC,
	GRAFT_A_EP_NAME,	/* 1: NUL-terminated string, <= 15 bytes */
	GRAFT_A_EP_TYPE,	/* 2: u8, enum graft_ep_type */
	GRAFT_A_EP_ADDR,	/* 3: binary, 4 (ipv4) or 16 (ipv6) bytes */
	GRAFT_A_EP_PORT,	/* 4: u16, host byte order */
	GRAFT_A_EP_FLAGS,	/* 5: u32, GRAFT_EP_F_* */
	GRAFT_A_EP_PATH,	/* 6: NUL-terminated string, <= 107 bytes */
	GRAFT_A_EP_NETNS_PID,	/* 7: u32 */
	GRAFT_A_EP_NETNS_FD,	/* 8: u32 (requests only) */
	GRAFT_A_EP_NETNSID,	/* 9: s32 (replies only) */
	/* GRAFT_CMD_SOCK_GET replies only: */
	GRAFT_A_SOCK_INODE,	/* 10: u64 */
	GRAFT_A_SOCK_FAMILY,	/* 11: u16 */
	GRAFT_A_SOCK_TYPE,	/* 12: u16 */
	GRAFT_A_SOCK_PROTOCOL,	/* 13: u16 */
	GRAFT_A_SOCK_STATE,	/* 14: u8, TCP_* */
	GRAFT_A_SOCK_NETNS_INO,	/* 15: u32 */
	GRAFT_A_SOCK_HOST_INODE,	/* 16: u64 */
	GRAFT_A_SOCK_LOCAL,	/* 17: binary, struct sockaddr_* */
	GRAFT_A_SOCK_PEER,	/* 18: binary, struct sockaddr_* */
	GRAFT_A_SOCK_BYTES_SENT,	/* 19: u64 */
	GRAFT_A_SOCK_BYTES_RECEIVED,	/* 20: u64 */
	__GRAFT_A_LAST
};
#define GRAFT_A_MAX (__GRAFT_A_LAST - 1)

enum graft_ep_type {
	GRAFT_EP_TYPE_UNSPEC,
	GRAFT_EP_TYPE_IPV4,	/* 1 */
	GRAFT_EP_TYPE_IPV6,	/* 2 */
	GRAFT_EP_TYPE_UNIX,	/* 3 */
	__GRAFT_EP_TYPE_LAST
};
#define GRAFT_EP_TYPE_MAX (__GRAFT_EP_TYPE_LAST - 1)

enum graft_ep_flag {
	/* The port is chosen at bind(): GRAFT_PORT_HINT or an ephemeral one. */
	GRAFT_EP_F_DYNAMIC_PORT = 1U << 0,
	/* Source endpoint for connect()/sendto() on unbound sockets. */
	GRAFT_EP_F_DEFAULT = 1U << 1,
	/* ipv4/ipv6: sockets bound through it may set SO_REUSEPORT. */
	GRAFT_EP_F_REUSEPORT = 1U << 2,
	/* unix: sockets bound through it may reach abstract addresses. */
	GRAFT_EP_F_ABSTRACT = 1U << 3,
	__GRAFT_EP_F_ALL = GRAFT_EP_F_DYNAMIC_PORT | GRAFT_EP_F_DEFAULT |
			   GRAFT_EP_F_REUSEPORT | GRAFT_EP_F_ABSTRACT
};

#endif /* _UAPI_AF_GRAFT_H */
