/* SPDX-License-Identifier: MIT */
/*
 * mapping.c — parse GRAFT_INGRESS_CONVERT / GRAFT_EGRESS_CONVERT and match
 * addresses against them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graft_env.h"
#include "libgraft.h"
#include "mapping.h"

#define MAP_TOKEN_MAX 256

/* ::ffff:0:0/96, the IPv4-mapped IPv6 addresses. */
static const uint8_t v4mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
}

/* Parse a decimal number in [0, max] that fills [s, end). */
static bool parse_uint(const char *s, const char *end, unsigned long max,
		       unsigned long *out)
{
	unsigned long v = 0;

	if (s == end || end - s > 10)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* An IPv4 or IPv6 literal, optionally in brackets. Modifies buf. */
static bool parse_ip(char *buf, int *family, uint8_t addr[16])
{
	size_t n = strlen(buf);

	if (n >= 2 && buf[0] == '[' && buf[n - 1] == ']') {
		buf[n - 1] = '\0';
		buf++;
		if (inet_pton(AF_INET6, buf, addr) == 1) {
			*family = AF_INET6;
			return true;
		}
		return false;
	}
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

/* Split "LEFT=EP" in place; checks the endpoint name. */
static const char *split_ep(char *tok, char **ep)
{
	char *eq = strchr(tok, '=');
	size_t len;

	if (!eq)
		return "missing \"=ENDPOINT\"";
	*eq = '\0';
	*ep = eq + 1;
	len = strlen(*ep);
	if (len == 0)
		return "empty endpoint name";
	if (len >= GRAFT_EPNAME_MAX)
		return "endpoint name longer than 15 bytes";
	if (strchr(*ep, '='))
		return "more than one \"=\"";
	for (const char *c = *ep; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			return "endpoint name is not printable ASCII";
	return NULL;
}

/*
 * Split "ADDR<sep>REST=EP" in place: *ep gets the endpoint name (checked),
 * *rest what follows the last sep, and tok keeps ADDR. `missing` is the
 * complaint when there is no sep.
 */
static const char *split_mapping(char *tok, char sep, const char *missing,
				 char **rest, char **ep)
{
	const char *err = split_ep(tok, ep);
	char *at;

	if (err)
		return err;
	at = strrchr(tok, sep);
	if (!at)
		return missing;
	*at = '\0';
	*rest = at + 1;
	return NULL;
}

static const char *parse_ingress(char *tok, struct graft_ingress *m)
{
	char *ep, *dash, *ports;
	unsigned long lo, hi;
	size_t alen;
	const char *err;

	memset(m, 0, sizeof(*m));
	err = split_mapping(tok, ':', "missing \":PORT\"", &ports, &ep);
	if (err)
		return err;
	alen = strlen(tok);
	if (tok[0] == '[' && tok[alen - 1] != ']')
		return "bad bracketed address";
	dash = strchr(ports, '-');
	if (dash) {
		if (!parse_uint(ports, dash, 65535, &lo) ||
		    !parse_uint(dash + 1, dash + 1 + strlen(dash + 1), 65535,
				&hi))
			return "bad port range";
		if (lo > hi)
			return "port range ends before it starts";
	} else {
		if (!parse_uint(ports, ports + strlen(ports), 65535, &lo))
			return "bad port";
		hi = lo;
	}
	if (!parse_ip(tok, &m->family, m->addr))
		return "bad IPv4 or IPv6 address";
	m->port_lo = (uint16_t)lo;
	m->port_hi = (uint16_t)hi;
	memcpy(m->ep, ep, strlen(ep) + 1);
	return NULL;
}

static void mask_prefix(uint8_t *a, unsigned int bytes, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < bytes; i++) {
		if (len >= 8) {
			len -= 8;
			continue;
		}
		a[i] &= (uint8_t)(0xff00u >> len);
		len = 0;
	}
}

static const char *parse_egress(char *tok, struct graft_egress *m)
{
	char *ep, *plen;
	unsigned long len;
	const char *err;

	memset(m, 0, sizeof(*m));
	err = split_mapping(tok, '/', "missing \"/LEN\"", &plen, &ep);
	if (err)
		return err;
	if (!parse_ip(tok, &m->family, m->prefix))
		return "bad IPv4 or IPv6 prefix";
	if (!parse_uint(plen, plen + strlen(plen),
			m->family == AF_INET ? 32 : 128, &len))
		return "bad prefix length";
	m->len = (unsigned int)len;
	mask_prefix(m->prefix, m->family == AF_INET ? 4 : 16, m->len);
	memcpy(m->ep, ep, strlen(ep) + 1);
	return NULL;
}

/* Append one element of size sz to *arr (n elements); NULL if no memory. */
static void *grow_one(void **arr, size_t *n, size_t sz)
{
	void *p = realloc(*arr, (*n + 1) * sz);

	if (!p)
		return NULL;
	*arr = p;
	return (char *)p + (*n)++ * sz;
}

enum map_kind { MAP_INGRESS, MAP_EGRESS };

/*
 * Parse one entry of `kind` and append it to its list in maps. Returns why
 * the entry is bad, or NULL; *oom is set when the list cannot grow.
 */
static const char *parse_entry(struct graft_maps *maps, enum map_kind kind,
			       char *tok, bool *oom)
{
	union {
		struct graft_ingress in;
		struct graft_egress eg;
	} m;
	bool in = kind == MAP_INGRESS;
	size_t sz = in ? sizeof(m.in) : sizeof(m.eg);
	const char *err = in ? parse_ingress(tok, &m.in)
			     : parse_egress(tok, &m.eg);
	void *slot;

	if (err)
		return err;
	slot = in ? grow_one((void **)&maps->in, &maps->nin, sz)
		  : grow_one((void **)&maps->eg, &maps->neg, sz);
	if (!slot)
		*oom = true;
	else
		memcpy(slot, &m, sz);
	return NULL;
}

static int parse_list(struct graft_maps *maps, const char *spec,
		      enum map_kind kind)
{
	const char *var = kind == MAP_INGRESS ? GRAFT_ENV_INGRESS
					      : GRAFT_ENV_EGRESS;
	char tok[MAP_TOKEN_MAX], orig[MAP_TOKEN_MAX];
	int bad = 0;
	bool oom = false;

	while (spec && *spec) {
		const char *start, *err;
		size_t len;

		while (*spec && is_sep(*spec))
			spec++;
		start = spec;
		while (*spec && !is_sep(*spec))
			spec++;
		len = (size_t)(spec - start);
		if (len == 0)
			break;
		if (len >= sizeof(tok)) {
			graft_error("ignoring bad %s entry \"%.*s...\": too long",
				    var, 32, start);
			bad++;
			continue;
		}
		memcpy(tok, start, len);
		tok[len] = '\0';
		memcpy(orig, tok, len + 1);

		err = parse_entry(maps, kind, tok, &oom);
		if (oom)
			return -1;
		if (err) {
			graft_error("ignoring bad %s entry \"%s\": %s", var,
				    orig, err);
			bad++;
		}
	}
	return bad;
}

int graft_maps_parse_ingress(struct graft_maps *maps, const char *spec)
{
	return parse_list(maps, spec, MAP_INGRESS);
}

int graft_maps_parse_egress(struct graft_maps *maps, const char *spec)
{
	return parse_list(maps, spec, MAP_EGRESS);
}

void graft_maps_free(struct graft_maps *maps)
{
	free(maps->in);
	free(maps->eg);
	memset(maps, 0, sizeof(*maps));
}

void graft_maps_trace(const struct graft_maps *maps)
{
	char a[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < maps->nin; i++) {
		const struct graft_ingress *m = &maps->in[i];
		bool v6 = m->family == AF_INET6;

		inet_ntop(m->family, m->addr, a, sizeof(a));
		if (m->port_lo == m->port_hi)
			graft_trace("use ep %s for %s%s%s:%u (ingress)", m->ep,
				    v6 ? "[" : "", a, v6 ? "]" : "",
				    m->port_lo);
		else
			graft_trace("use ep %s for %s%s%s:%u-%u (ingress)",
				    m->ep, v6 ? "[" : "", a, v6 ? "]" : "",
				    m->port_lo, m->port_hi);
	}
	for (i = 0; i < maps->neg; i++) {
		const struct graft_egress *m = &maps->eg[i];

		inet_ntop(m->family, m->prefix, a, sizeof(a));
		graft_trace("use ep %s for %s/%u (egress)", m->ep, a, m->len);
	}
}

/* Family, raw address bytes and port of an INET address, or false. */
static bool inet_parts(const struct sockaddr *addr, socklen_t len,
		       int *family, const uint8_t **raw, uint16_t *port)
{
	if (!graft_addr_is_inet(addr, len))
		return false;
	*family = addr->sa_family;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;

		*raw = (const uint8_t *)&sin->sin_addr;
		*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)addr;

		*raw = (const uint8_t *)&sin6->sin6_addr;
		*port = ntohs(sin6->sin6_port);
	}
	return true;
}

/* The first ingress mapping of this family, address and port range. */
static const struct graft_ingress *ingress_find(const struct graft_maps *maps,
						int family, const uint8_t *raw,
						uint16_t port)
{
	size_t i;

	for (i = 0; i < maps->nin; i++) {
		const struct graft_ingress *m = &maps->in[i];

		if (m->family == family &&
		    !memcmp(m->addr, raw, family == AF_INET ? 4 : 16) &&
		    port >= m->port_lo && port <= m->port_hi)
			return m;
	}
	return NULL;
}

const struct graft_ingress *graft_maps_ingress(const struct graft_maps *maps,
					       const struct sockaddr *addr,
					       socklen_t len, bool v6only)
{
	static const uint8_t any6[16], any4[4];
	const struct graft_ingress *m;
	const uint8_t *raw;
	uint16_t port;
	int family;

	if (!inet_parts(addr, len, &family, &raw, &port))
		return NULL;
	m = ingress_find(maps, family, raw, port);
	if (m || family != AF_INET6 || v6only)
		return m;
	/*
	 * No IPv6 mapping: an AF_INET6 bind to [::] (dual stack, as iperf3 and
	 * many servers do by default) or to a v4-mapped ::ffff:a.b.c.d also
	 * serves IPv4, so the IPv4 mapping for 0.0.0.0 or a.b.c.d applies.
	 */
	if (!memcmp(raw, any6, 16))
		return ingress_find(maps, AF_INET, any4, port);
	if (!memcmp(raw, v4mapped_prefix, 12))
		return ingress_find(maps, AF_INET, raw + 12, port);
	return NULL;
}

static bool prefix_matches(const uint8_t *prefix, unsigned int len,
			   const uint8_t *raw)
{
	unsigned int full = len / 8, rest = len % 8;

	if (memcmp(prefix, raw, full))
		return false;
	if (rest == 0)
		return true;
	return ((raw[full] ^ prefix[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

const struct graft_egress *graft_maps_egress(const struct graft_maps *maps,
					     const struct sockaddr *addr,
					     socklen_t len)
{
	const struct graft_egress *best = NULL;
	const uint8_t *raw;
	uint16_t port;
	int family;
	size_t i;

	if (!inet_parts(addr, len, &family, &raw, &port))
		return NULL;
	if (family == AF_INET6) {
		/* A v4-mapped destination is an IPv4 one: IPv4 prefixes apply. */
		if (!memcmp(raw, v4mapped_prefix, 12)) {
			family = AF_INET;
			raw += 12;
		}
	}
	for (i = 0; i < maps->neg; i++) {
		const struct graft_egress *m = &maps->eg[i];

		if (m->family != family || (best && m->len <= best->len))
			continue;
		if (prefix_matches(m->prefix, m->len, raw))
			best = m;
	}
	return best;
}
