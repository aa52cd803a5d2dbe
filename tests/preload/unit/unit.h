/* SPDX-License-Identifier: MIT */
/* Minimal unit test helpers for the preload library's C tests. */
#ifndef GRAFT_UNIT_H
#define GRAFT_UNIT_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                            \
			unit_failures++;                                     \
		}                                                            \
	} while (0)

#define UNIT_DONE()                                                          \
	do {                                                                 \
		if (unit_failures) {                                         \
			fprintf(stderr, "FAIL: %d check(s) failed\n",        \
				unit_failures);                              \
			return 1;                                            \
		}                                                            \
		printf("ok\n");                                              \
		return 0;                                                    \
	} while (0)

/* Fill *ss with ip:port, IPv6 when ip has a ':'; returns the address length. */
static inline socklen_t unit_sockaddr(const char *ip, unsigned int port,
				      struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (void *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &s4->sin_addr);
	return sizeof(*s4);
}

#endif /* GRAFT_UNIT_H */
