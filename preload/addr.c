/* SPDX-License-Identifier: MIT */
/*
 * addr.c — socket address helpers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "libgraft.h"

bool graft_addr_is_inet(const struct sockaddr *addr, socklen_t len)
{
	if (!addr || len < sizeof(sa_family_t))
		return false;
	if (addr->sa_family == AF_INET)
		return len >= sizeof(struct sockaddr_in);
	if (addr->sa_family == AF_INET6)
		return len >= sizeof(struct sockaddr_in6);
	return false;
}

uint16_t graft_addr_port(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)addr)
				     ->sin_port);
	if (addr->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)addr)
				     ->sin6_port);
	return 0;
}

const char *graft_addr_str(const struct sockaddr *addr, socklen_t len,
			   char *buf)
{
	char a[INET6_ADDRSTRLEN];

	if (graft_addr_is_inet(addr, len) && addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)addr;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, GRAFT_ADDRSTR_MAX, "%s:%u", a,
			 ntohs(sin->sin_port));
	} else if (graft_addr_is_inet(addr, len)) {
		const struct sockaddr_in6 *sin6 = (const void *)addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, GRAFT_ADDRSTR_MAX, "[%s]:%u", a,
			 ntohs(sin6->sin6_port));
	} else if (addr && len > sizeof(sa_family_t) &&
		   addr->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const void *)addr;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);

		if (n > sizeof(sun->sun_path))
			n = sizeof(sun->sun_path);
		if (sun->sun_path[0] == '\0')
			snprintf(buf, GRAFT_ADDRSTR_MAX, "unix:@%.*s",
				 (int)(n ? n - 1 : 0), sun->sun_path + 1);
		else
			snprintf(buf, GRAFT_ADDRSTR_MAX, "unix:%.*s", (int)n,
				 sun->sun_path);
	} else if (addr && len >= sizeof(sa_family_t)) {
		snprintf(buf, GRAFT_ADDRSTR_MAX, "(family %d)",
			 addr->sa_family);
	} else {
		snprintf(buf, GRAFT_ADDRSTR_MAX, "(no address)");
	}
	return buf;
}

socklen_t graft_addr_unspec(int family, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	out->ss_family = (sa_family_t)family;
	if (family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	if (family == AF_INET)
		return sizeof(struct sockaddr_in);
	return sizeof(sa_family_t);
}

void graft_addr_copyout(const void *src, socklen_t srclen,
			struct sockaddr *dst, socklen_t *len)
{
	if (!dst || !len)
		return;
	memcpy(dst, src, *len < srclen ? *len : srclen);
	*len = srclen;
}

socklen_t graft_addr_convert(const struct sockaddr *src, socklen_t srclen,
			     int family, bool strict,
			     struct sockaddr_storage *out)
{
	socklen_t len;

	if (graft_addr_is_inet(src, srclen) && src->sa_family == family) {
		len = family == AF_INET ? sizeof(struct sockaddr_in)
					: sizeof(struct sockaddr_in6);
		memset(out, 0, sizeof(*out));
		memcpy(out, src, len);
		return len;
	}
	if (graft_addr_is_inet(src, srclen) && src->sa_family == AF_INET &&
	    family == AF_INET6) {
		const struct sockaddr_in *sin = (const void *)src;
		struct sockaddr_in6 *sin6 = (void *)out;

		len = graft_addr_unspec(AF_INET6, out);
		sin6->sin6_port = sin->sin_port;
		sin6->sin6_addr.s6_addr[10] = 0xff;
		sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], &sin->sin_addr, 4);
		return len;
	}
	if (graft_addr_is_inet(src, srclen) && src->sa_family == AF_INET6 &&
	    family == AF_INET &&
	    IN6_IS_ADDR_V4MAPPED(
		    &((const struct sockaddr_in6 *)(const void *)src)
			     ->sin6_addr)) {
		const struct sockaddr_in6 *sin6 = (const void *)src;
		struct sockaddr_in *sin = (void *)out;

		len = graft_addr_unspec(AF_INET, out);
		sin->sin_port = sin6->sin6_port;
		memcpy(&sin->sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
		return len;
	}
	if (strict)
		return 0;
	len = graft_addr_unspec(family, out);
	if (graft_addr_is_inet(src, srclen) &&
	    (family == AF_INET || family == AF_INET6)) {
		uint16_t port = htons(graft_addr_port(src));

		if (family == AF_INET)
			((struct sockaddr_in *)(void *)out)->sin_port = port;
		else
			((struct sockaddr_in6 *)(void *)out)->sin6_port = port;
	}
	return len;
}
