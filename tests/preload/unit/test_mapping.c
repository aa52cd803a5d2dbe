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

static const char *in_ep(const struct graft_maps *m, const char *ip,
			 unsigned int port, bool v6only)
{
	struct sockaddr_storage ss;
	socklen_t len = unit_sockaddr(ip, port, &ss);
	const struct graft_ingress *r =
		graft_maps_ingress(m, (struct sockaddr *)&ss, len, v6only);

	return r ? r->ep : "";
}

static const char *eg_ep(const struct graft_maps *m, const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len = unit_sockaddr(ip, 9, &ss);
	const struct graft_egress *r =
		graft_maps_egress(m, (struct sockaddr *)&ss, len);

	return r ? r->ep : "";
}

/*
 * Check where sockets go. `want` is a list of "KEY=EP" words, EP empty for
 * no mapping: KEY is a port of `ip` for ingress (ip NULL: egress, and KEY
 * the destination address). A failure names the line and the case.
 */
static void expect(const struct graft_maps *m, const char *ip, bool v6only,
		   const char *want, int line)
{
	char buf[512], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", want);
	for (char *w = strtok_r(buf, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		char *eq = strrchr(w, '=');
		const char *got;

		if (!eq) {
			fprintf(stderr, "%s:%d: bad case \"%s\"\n", __FILE__,
				line, w);
			unit_failures++;
			continue;
		}
		*eq = '\0';
		got = ip ? in_ep(m, ip, (unsigned int)atoi(w), v6only)
			 : eg_ep(m, w);
		if (strcmp(got, eq + 1)) {
			fprintf(stderr, "%s:%d: %s%s%s: got \"%s\", want \"%s\"\n",
				__FILE__, line, ip ? ip : "", ip ? " port " : "",
				w, got, eq + 1);
			unit_failures++;
		}
	}
}

/* Binds to ip: "PORT=EP ..." */
#define EXPECT_IN(m, ip, want) expect(m, ip, false, want, __LINE__)
/* The same from an IPV6_V6ONLY socket. */
#define EXPECT_IN_V6ONLY(m, ip, want) expect(m, ip, true, want, __LINE__)
/* Connects: "ADDR=EP ..." */
#define EXPECT_EG(m, want) expect(m, NULL, false, want, __LINE__)

static void test_ingress(void)
{
	struct graft_maps m = { 0 };

	CHECK(graft_maps_parse_ingress(&m,
		"0.0.0.0:5201=ep-test, 127.0.0.1:8000-8010=lo-in\t"
		"[::1]:80=v6a ::1:81-90=v6b [::]:0-65535=any6") == 0);
	CHECK(m.nin == 5);
	EXPECT_IN(&m, "0.0.0.0", "5201=ep-test 5202=");
	EXPECT_IN(&m, "127.0.0.1",
		  "5201= 7999= 8000=lo-in 8005=lo-in 8010=lo-in 8011=");
	EXPECT_IN(&m, "::1", "80=v6a 81=v6b 90=v6b 91=");
	EXPECT_IN(&m, "::", "0=any6 65535=any6");
	/* exact address only: 0.0.0.0 does not cover 10.0.0.1 */
	EXPECT_IN(&m, "10.0.0.1", "5201=");
	/* a v4-mapped bind without an IPv6 mapping for it uses IPv4's */
	EXPECT_IN(&m, "::ffff:0.0.0.0", "5201=ep-test");
	graft_maps_free(&m);

	/* without an IPv6 mapping, a dual-stack [::] bind or a v4-mapped one
	 * uses the IPv4 mapping for 0.0.0.0 or the mapped address */
	CHECK(graft_maps_parse_ingress(&m, "0.0.0.0:80=v4any 127.0.0.1:81=v4lo")
	      == 0);
	EXPECT_IN(&m, "::", "80=v4any 81=");
	EXPECT_IN(&m, "::ffff:0.0.0.0", "80=v4any");
	EXPECT_IN(&m, "::ffff:127.0.0.1", "81=v4lo 80=");
	EXPECT_IN(&m, "::1", "81=");
	/* an IPV6_V6ONLY socket never sees IPv4: no fallback */
	EXPECT_IN_V6ONLY(&m, "::", "80=");
	EXPECT_IN_V6ONLY(&m, "::ffff:127.0.0.1", "81=");
	EXPECT_IN_V6ONLY(&m, "0.0.0.0", "80=v4any");
	graft_maps_free(&m);

	/* with an IPv6 mapping too, each socket goes to its own endpoint */
	CHECK(graft_maps_parse_ingress(&m, "0.0.0.0:80=v4 [::]:80=v6") == 0);
	EXPECT_IN(&m, "0.0.0.0", "80=v4");
	EXPECT_IN(&m, "::", "80=v6");
	EXPECT_IN_V6ONLY(&m, "::", "80=v6");
	graft_maps_free(&m);

	/* first listed wins among overlapping ranges */
	CHECK(graft_maps_parse_ingress(&m, "0.0.0.0:1-100=a 0.0.0.0:50=b") == 0);
	EXPECT_IN(&m, "0.0.0.0", "50=a");
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
		"0.0.0.0:1=ep-name-15-byte "	/* 15 bytes: the longest name */
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
	CHECK(m.nin == 3);
	EXPECT_IN(&m, "0.0.0.0", "80=good 1=ep-name-15-byte");
	EXPECT_IN(&m, "::1", "81=good6");
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
	EXPECT_EG(&m, "198.18.0.1=ep-out4 127.0.0.1=lo-out4 127.0.0.2=host "
		      "127.255.0.2=lo-out4 10.1.200.1=masked 10.2.0.1=ep-out4");
	/* IPv6 destinations only match IPv6 prefixes, and the reverse */
	EXPECT_EG(&m, "::1=ep-out6 2001:db8::1=doc6 2001:db8:1::1=doc6b "
		      "2001:db8:2::1=doc6");
	/* a v4-mapped destination is an IPv4 one */
	EXPECT_EG(&m, "::ffff:127.0.0.1=lo-out4 ::ffff:198.18.0.1=ep-out4");
	graft_maps_free(&m);

	/* only an IPv6 mapping: IPv4 destinations stay unmatched */
	CHECK(graft_maps_parse_egress(&m, "::/0=six") == 0);
	EXPECT_EG(&m, "127.0.0.1= ::ffff:127.0.0.1= ::1=six");
	graft_maps_free(&m);

	/* prefix lengths that are not multiples of 8 */
	CHECK(graft_maps_parse_egress(&m, "192.168.0.0/17=lo 192.168.128.0/17=hi "
				      "fe80::/10=ll") == 0);
	EXPECT_EG(&m, "192.168.127.255=lo 192.168.128.0=hi febf::1=ll fec0::1=");
	graft_maps_free(&m);

	/* equal prefixes: the first listed wins */
	CHECK(graft_maps_parse_egress(&m, "0.0.0.0/0=first 0.0.0.0/0=second") == 0);
	EXPECT_EG(&m, "1.1.1.1=first");
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
