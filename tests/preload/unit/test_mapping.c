/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for mapping.c: parsing GRAFT_INGRESS_CONVERT and
 * GRAFT_EGRESS_CONVERT, port ranges, bad entries, and the longest-prefix
 * choice across IPv4 and IPv6.
 */
#include <arpa/inet.h>
#include <string.h>

#include "libgraft.h"
#include "mapping.h"
#include "unit.h"

static socklen_t mk(const char *ip, unsigned int port,
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

static const char *in_ep(const struct graft_maps *m, const char *ip,
			 unsigned int port)
{
	struct sockaddr_storage ss;
	socklen_t len = mk(ip, port, &ss);
	const struct graft_ingress *r =
		graft_maps_ingress(m, (struct sockaddr *)&ss, len, false);

	return r ? r->ep : "";
}

/* The same for a socket with IPV6_V6ONLY set. */
static const char *in_ep6only(const struct graft_maps *m, const char *ip,
			      unsigned int port)
{
	struct sockaddr_storage ss;
	socklen_t len = mk(ip, port, &ss);
	const struct graft_ingress *r =
		graft_maps_ingress(m, (struct sockaddr *)&ss, len, true);

	return r ? r->ep : "";
}

static const char *eg_ep(const struct graft_maps *m, const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len = mk(ip, 9, &ss);
	const struct graft_egress *r =
		graft_maps_egress(m, (struct sockaddr *)&ss, len);

	return r ? r->ep : "";
}

static void test_ingress(void)
{
	struct graft_maps m = { 0 };

	CHECK(graft_maps_parse_ingress(&m,
		"0.0.0.0:5201=ep-test, 127.0.0.1:8000-8010=lo-in\t"
		"[::1]:80=v6a ::1:81-90=v6b [::]:0-65535=any6") == 0);
	CHECK(m.nin == 5);
	CHECK(!strcmp(in_ep(&m, "0.0.0.0", 5201), "ep-test"));
	CHECK(!strcmp(in_ep(&m, "0.0.0.0", 5202), ""));
	CHECK(!strcmp(in_ep(&m, "127.0.0.1", 5201), ""));
	CHECK(!strcmp(in_ep(&m, "127.0.0.1", 8000), "lo-in"));
	CHECK(!strcmp(in_ep(&m, "127.0.0.1", 8005), "lo-in"));
	CHECK(!strcmp(in_ep(&m, "127.0.0.1", 8010), "lo-in"));
	CHECK(!strcmp(in_ep(&m, "127.0.0.1", 8011), ""));
	CHECK(!strcmp(in_ep(&m, "127.0.0.1", 7999), ""));
	CHECK(!strcmp(in_ep(&m, "::1", 80), "v6a"));
	CHECK(!strcmp(in_ep(&m, "::1", 81), "v6b"));
	CHECK(!strcmp(in_ep(&m, "::1", 90), "v6b"));
	CHECK(!strcmp(in_ep(&m, "::1", 91), ""));
	CHECK(!strcmp(in_ep(&m, "::", 0), "any6"));
	CHECK(!strcmp(in_ep(&m, "::", 65535), "any6"));
	/* exact address only: 0.0.0.0 does not cover 127.0.0.1 */
	CHECK(!strcmp(in_ep(&m, "10.0.0.1", 5201), ""));
	/* a v4-mapped bind without an IPv6 mapping for it uses IPv4's */
	CHECK(!strcmp(in_ep(&m, "::ffff:0.0.0.0", 5201), "ep-test"));
	graft_maps_free(&m);

	/* without an IPv6 mapping, a dual-stack [::] bind or a v4-mapped one
	 * uses the IPv4 mapping for 0.0.0.0 or the mapped address */
	CHECK(graft_maps_parse_ingress(&m, "0.0.0.0:80=v4any 127.0.0.1:81=v4lo")
	      == 0);
	CHECK(!strcmp(in_ep(&m, "::", 80), "v4any"));
	CHECK(!strcmp(in_ep(&m, "::ffff:0.0.0.0", 80), "v4any"));
	CHECK(!strcmp(in_ep(&m, "::ffff:127.0.0.1", 81), "v4lo"));
	CHECK(!strcmp(in_ep(&m, "::", 81), ""));
	CHECK(!strcmp(in_ep(&m, "::1", 81), ""));
	CHECK(!strcmp(in_ep(&m, "::ffff:127.0.0.1", 80), ""));
	/* an IPV6_V6ONLY socket never sees IPv4: no fallback */
	CHECK(!strcmp(in_ep6only(&m, "::", 80), ""));
	CHECK(!strcmp(in_ep6only(&m, "::ffff:127.0.0.1", 81), ""));
	CHECK(!strcmp(in_ep6only(&m, "0.0.0.0", 80), "v4any"));
	graft_maps_free(&m);

	/* with an IPv6 mapping too, each socket goes to its own endpoint */
	CHECK(graft_maps_parse_ingress(&m, "0.0.0.0:80=v4 [::]:80=v6") == 0);
	CHECK(!strcmp(in_ep(&m, "0.0.0.0", 80), "v4"));
	CHECK(!strcmp(in_ep(&m, "::", 80), "v6"));
	CHECK(!strcmp(in_ep6only(&m, "::", 80), "v6"));
	graft_maps_free(&m);

	/* first listed wins among overlapping ranges */
	CHECK(graft_maps_parse_ingress(&m, "0.0.0.0:1-100=a 0.0.0.0:50=b") == 0);
	CHECK(!strcmp(in_ep(&m, "0.0.0.0", 50), "a"));
	graft_maps_free(&m);

	/* empty and separator-only lists */
	CHECK(graft_maps_parse_ingress(&m, "") == 0);
	CHECK(graft_maps_parse_ingress(&m, NULL) == 0);
	CHECK(graft_maps_parse_ingress(&m, " ,, \n") == 0);
	CHECK(m.nin == 0);
	graft_maps_free(&m);
}

static void test_ingress_bad(void)
{
	struct graft_maps m = { 0 };

	fprintf(stderr, "(the following 'ignoring bad' lines are expected)\n");
	CHECK(graft_maps_parse_ingress(&m,
		"0.0.0.0:80=good "
		"0.0.0.0:80 "			/* no endpoint */
		"0.0.0.0:80= "			/* empty endpoint */
		"0.0.0.0:80=ep-name-too-long "	/* 16 bytes */
		"0.0.0.0=ep "			/* no port */
		"0.0.0.0:65536=ep "		/* port too big */
		"0.0.0.0:90-80=ep "		/* range backwards */
		"0.0.0.0:8x=ep "		/* not a number */
		"0.0.0.0:-5=ep "		/* empty start */
		"1.2.3:80=ep "			/* bad address */
		"example.com:80=ep "		/* names are not resolved */
		"[::1:80=ep "			/* unbalanced bracket */
		"0.0.0.0:80=a=b "		/* two '=' */
		"::1:81=good6") == 12);
	CHECK(m.nin == 2);
	CHECK(!strcmp(in_ep(&m, "0.0.0.0", 80), "good"));
	CHECK(!strcmp(in_ep(&m, "::1", 81), "good6"));
	graft_maps_free(&m);

	/* 15 bytes is the longest name */
	CHECK(graft_maps_parse_ingress(&m, "0.0.0.0:1=ep-name-15-byte") == 0);
	CHECK(!strcmp(in_ep(&m, "0.0.0.0", 1), "ep-name-15-byte"));
	graft_maps_free(&m);
}

static void test_egress(void)
{
	struct graft_maps m = { 0 };

	CHECK(graft_maps_parse_egress(&m,
		"0.0.0.0/0=ep-out4 127.0.0.0/8=lo-out4, 127.0.0.2/32=host "
		"::/0=ep-out6 [2001:db8::]/32=doc6 2001:db8:1::/48=doc6b "
		"10.1.2.3/16=masked") == 0);
	CHECK(m.neg == 7);
	CHECK(!strcmp(eg_ep(&m, "198.18.0.1"), "ep-out4"));
	CHECK(!strcmp(eg_ep(&m, "127.0.0.1"), "lo-out4"));
	CHECK(!strcmp(eg_ep(&m, "127.0.0.2"), "host"));
	CHECK(!strcmp(eg_ep(&m, "127.255.0.2"), "lo-out4"));
	CHECK(!strcmp(eg_ep(&m, "10.1.200.1"), "masked"));
	CHECK(!strcmp(eg_ep(&m, "10.2.0.1"), "ep-out4"));
	/* IPv6 destinations only match IPv6 prefixes, and the reverse */
	CHECK(!strcmp(eg_ep(&m, "::1"), "ep-out6"));
	CHECK(!strcmp(eg_ep(&m, "2001:db8::1"), "doc6"));
	CHECK(!strcmp(eg_ep(&m, "2001:db8:1::1"), "doc6b"));
	CHECK(!strcmp(eg_ep(&m, "2001:db8:2::1"), "doc6"));
	/* a v4-mapped destination is an IPv4 one */
	CHECK(!strcmp(eg_ep(&m, "::ffff:127.0.0.1"), "lo-out4"));
	CHECK(!strcmp(eg_ep(&m, "::ffff:198.18.0.1"), "ep-out4"));
	graft_maps_free(&m);

	/* only an IPv6 mapping: IPv4 destinations stay unmatched */
	CHECK(graft_maps_parse_egress(&m, "::/0=six") == 0);
	CHECK(!strcmp(eg_ep(&m, "127.0.0.1"), ""));
	CHECK(!strcmp(eg_ep(&m, "::ffff:127.0.0.1"), ""));
	CHECK(!strcmp(eg_ep(&m, "::1"), "six"));
	graft_maps_free(&m);

	/* prefix lengths that are not multiples of 8 */
	CHECK(graft_maps_parse_egress(&m, "192.168.0.0/17=lo 192.168.128.0/17=hi "
				      "fe80::/10=ll") == 0);
	CHECK(!strcmp(eg_ep(&m, "192.168.127.255"), "lo"));
	CHECK(!strcmp(eg_ep(&m, "192.168.128.0"), "hi"));
	CHECK(!strcmp(eg_ep(&m, "febf::1"), "ll"));
	CHECK(!strcmp(eg_ep(&m, "fec0::1"), ""));
	graft_maps_free(&m);

	/* equal prefixes: the first listed wins */
	CHECK(graft_maps_parse_egress(&m, "0.0.0.0/0=first 0.0.0.0/0=second") == 0);
	CHECK(!strcmp(eg_ep(&m, "1.1.1.1"), "first"));
	graft_maps_free(&m);

	fprintf(stderr, "(the following 'ignoring bad' lines are expected)\n");
	CHECK(graft_maps_parse_egress(&m,
		"0.0.0.0/33=a ::/129=b 0.0.0.0=c 0.0.0.0/x=d 1.2.3.4/8 "
		"host/8=e 0.0.0.0/0=ep-name-too-long ::/0=ok") == 7);
	CHECK(m.neg == 1);
	graft_maps_free(&m);
}

int main(void)
{
	test_ingress();
	test_ingress_bad();
	test_egress();
	UNIT_DONE();
}
