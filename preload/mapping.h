/* SPDX-License-Identifier: MIT */
/*
 * Conversion mappings: which bind() addresses (ingress) and which
 * connect()/sendto() destinations (egress) are grafted onto which endpoint.
 *
 *   ingress  ADDR:PORT[-PORT]=EP   e.g. 0.0.0.0:5201=ep-test,
 *                                  [::1]:80-90=ep6 or ::1:80=ep6
 *   egress   PREFIX/LEN=EP         e.g. 0.0.0.0/0=ep-out, ::/0=ep-out6
 *
 * Entries are separated by whitespace or commas. A bad entry is reported on
 * stderr (one line naming it) and skipped. The tables are built once at
 * start-up and read without locking afterwards.
 */
#ifndef GRAFT_MAPPING_H
#define GRAFT_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "graft_proto.h"

struct graft_ingress {
	int family;	   /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* 4 or 16 bytes used, network order */
	uint16_t port_lo;  /* inclusive, host order */
	uint16_t port_hi;
	char ep[GRAFT_EPNAME_MAX];
};

struct graft_egress {
	int family;
	uint8_t prefix[16]; /* host bits cleared */
	unsigned int len;   /* prefix length in bits */
	char ep[GRAFT_EPNAME_MAX];
};

struct graft_maps {
	struct graft_ingress *in;
	size_t nin;
	struct graft_egress *eg;
	size_t neg;
};

/*
 * Parse a list of mappings and append them to maps. Returns the number of
 * rejected entries (each one was reported on stderr), or -1 when out of
 * memory.
 */
int graft_maps_parse_ingress(struct graft_maps *maps, const char *spec);
int graft_maps_parse_egress(struct graft_maps *maps, const char *spec);
void graft_maps_free(struct graft_maps *maps);

/* Print every mapping as a verbose trace line. */
void graft_maps_trace(const struct graft_maps *maps);

/*
 * The ingress mapping for a bind() to addr (first listed match), or NULL.
 * addr must be AF_INET or AF_INET6 and at least as long as its family needs.
 * Without an IPv6 mapping, an AF_INET6 bind to [::] or to ::ffff:a.b.c.d
 * uses the IPv4 mapping for 0.0.0.0 or a.b.c.d, unless v6only (the socket
 * has IPV6_V6ONLY set: it will never see IPv4 traffic).
 */
const struct graft_ingress *graft_maps_ingress(const struct graft_maps *maps,
					       const struct sockaddr *addr,
					       socklen_t len, bool v6only);

/* The egress mapping for destination addr by longest prefix, or NULL. */
const struct graft_egress *graft_maps_egress(const struct graft_maps *maps,
					     const struct sockaddr *addr,
					     socklen_t len);

#endif /* GRAFT_MAPPING_H */
