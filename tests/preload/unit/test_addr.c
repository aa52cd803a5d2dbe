/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for addr.c: formatting, the kernel's copy-out rule, and the
 * translation between an application's family and its graft's.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include "libgraft.h"
#include "unit.h"

static const char *str(const struct sockaddr_storage *ss, socklen_t len)
{
	static char buf[GRAFT_ADDRSTR_MAX];

	return graft_addr_str((const struct sockaddr *)ss, len, buf);
}

int main(void)
{
	struct sockaddr_storage a, b;
	struct sockaddr_un sun = { .sun_family = AF_UNIX,
				   .sun_path = "/run/x.sock" };
	socklen_t la, lb;

	la = unit_sockaddr("127.0.0.1", 8080, &a);
	CHECK(!strcmp(str(&a, la), "127.0.0.1:8080"));
	CHECK(graft_addr_is_inet((struct sockaddr *)&a, la));
	CHECK(!graft_addr_is_inet((struct sockaddr *)&a, la - 1));
	CHECK(graft_addr_port((struct sockaddr *)&a) == 8080);
	la = unit_sockaddr("::1", 80, &a);
	CHECK(!strcmp(str(&a, la), "[::1]:80"));
	CHECK(!graft_addr_is_inet((struct sockaddr *)&a, sizeof(struct sockaddr_in)));
	memcpy(&a, &sun, sizeof(sun));
	CHECK(!strcmp(str(&a, sizeof(sun)), "unix:/run/x.sock"));

	/* IPv4 peer, IPv6 application: IPv4-mapped */
	la = unit_sockaddr("198.18.0.1", 443, &a);
	lb = graft_addr_convert((struct sockaddr *)&a, la, AF_INET6, true, &b);
	CHECK(lb == sizeof(struct sockaddr_in6));
	CHECK(!strcmp(str(&b, lb), "[::ffff:198.18.0.1]:443"));
	/* and back */
	lb = graft_addr_convert((struct sockaddr *)&b, lb, AF_INET, true, &a);
	CHECK(lb == sizeof(struct sockaddr_in));
	CHECK(!strcmp(str(&a, lb), "198.18.0.1:443"));
	/* a real IPv6 address has no IPv4 form */
	la = unit_sockaddr("2001:db8::1", 53, &a);
	CHECK(graft_addr_convert((struct sockaddr *)&a, la, AF_INET, true, &b) == 0);
	lb = graft_addr_convert((struct sockaddr *)&a, la, AF_INET, false, &b);
	CHECK(!strcmp(str(&b, lb), "0.0.0.0:53"));
	/* a unix peer: the unspecified address, port 0 */
	memcpy(&a, &sun, sizeof(sun));
	lb = graft_addr_convert((struct sockaddr *)&a, sizeof(sun), AF_INET6,
				false, &b);
	CHECK(!strcmp(str(&b, lb), "[::]:0"));
	lb = graft_addr_convert((struct sockaddr *)&a, sizeof(sun), AF_INET,
				false, &b);
	CHECK(!strcmp(str(&b, lb), "0.0.0.0:0"));

	/* copy-out truncates to the buffer and reports the full length */
	{
		uint8_t small[4] = { 0 };
		socklen_t n = sizeof(small);

		la = unit_sockaddr("10.1.2.3", 1, &a);
		graft_addr_copyout(&a, la, (struct sockaddr *)small, &n);
		CHECK(n == sizeof(struct sockaddr_in));
		CHECK(!memcmp(small, &a, sizeof(small)));
	}
	UNIT_DONE();
}
