/* SPDX-License-Identifier: MIT */
/*
 * Every vector of tests/vectors/mapping.tsv through preload/mapping.c: a
 * valid entry parses to exactly one mapping whose canonical text is EXPECT,
 * an "error" entry is refused (and nothing is added).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "libgraft.h"
#include "mapping.h"
#include "unit.h"

#ifndef GRAFT_VECTORS
#define GRAFT_VECTORS "../tests/vectors/mapping.tsv"
#endif

static int vectors, lineno;

/* Parse one entry with stderr silenced (refusals print a line each). */
static int parse_quiet(struct graft_maps *m, bool ingress, const char *in)
{
	int saved = dup(2), null = open("/dev/null", O_WRONLY), bad;

	dup2(null, 2);
	bad = ingress ? graft_maps_parse_ingress(m, in)
		      : graft_maps_parse_egress(m, in);
	dup2(saved, 2);
	close(saved);
	close(null);
	return bad;
}

/* The canonical text of what m holds (one mapping). */
static void canon(const struct graft_maps *m, bool ingress, char *out,
		  size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (ingress) {
		const struct graft_ingress *g = &m->in[0];

		inet_ntop(g->family, g->addr, a, sizeof(a));
		snprintf(out, size, "%s %u %u %s", a, g->port_lo, g->port_hi,
			 g->ep);
	} else {
		const struct graft_egress *g = &m->eg[0];

		inet_ntop(g->family, g->prefix, a, sizeof(a));
		snprintf(out, size, "%s %u %s", a, g->len, g->ep);
	}
}

static void run_vector(const char *kind, const char *in, const char *expect)
{
	struct graft_maps m = { 0 };
	bool ingress = !strcmp(kind, "ingress");
	char got[256];
	int bad;

	if (!ingress && strcmp(kind, "egress")) {
		fprintf(stderr, "%s:%d: unknown kind \"%s\"\n", GRAFT_VECTORS,
			lineno, kind);
		unit_failures++;
		return;
	}
	vectors++;
	bad = parse_quiet(&m, ingress, in);
	if (!strcmp(expect, "error")) {
		if (bad != 1 || m.nin + m.neg != 0) {
			fprintf(stderr, "%s:%d: %s \"%s\" was accepted\n",
				GRAFT_VECTORS, lineno, kind, in);
			unit_failures++;
		}
	} else if (bad != 0 || m.nin + m.neg != 1) {
		fprintf(stderr, "%s:%d: %s \"%s\" was refused\n", GRAFT_VECTORS,
			lineno, kind, in);
		unit_failures++;
	} else {
		canon(&m, ingress, got, sizeof(got));
		if (strcmp(got, expect)) {
			fprintf(stderr, "%s:%d: %s \"%s\" gave \"%s\", not \"%s\"\n",
				GRAFT_VECTORS, lineno, kind, in, got, expect);
			unit_failures++;
		}
	}
	graft_maps_free(&m);
}

int main(void)
{
	FILE *f = fopen(GRAFT_VECTORS, "r");
	char line[512];

	if (!f) {
		perror(GRAFT_VECTORS);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *kind, *in, *expect, *save;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		kind = strtok_r(line, "\t", &save);
		in = strtok_r(NULL, "\t", &save);
		expect = strtok_r(NULL, "\t", &save);
		if (!kind || !in || !expect || strtok_r(NULL, "\t", &save)) {
			fprintf(stderr, "%s:%d: not KIND<TAB>INPUT<TAB>EXPECT\n",
				GRAFT_VECTORS, lineno);
			unit_failures++;
			continue;
		}
		run_vector(kind, in, expect);
	}
	fclose(f);
	printf("%d mapping vectors\n", vectors);
	CHECK(vectors >= 30);
	UNIT_DONE();
}
