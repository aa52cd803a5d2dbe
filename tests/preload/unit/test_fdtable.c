/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for fdtable.c: growth past 5000 descriptors, dup copies,
 * drops, range drops, the tracked count and the reuse of dropped entries.
 */
#include <netinet/in.h>
#include <string.h>

#include "fdtable.h"
#include "unit.h"

#define N 6000

int main(void)
{
	struct graft_sock *s;
	int fd;

	graft_fdt_lock();
	CHECK(graft_fdt_get(0) == NULL);
	CHECK(graft_fdt_get(-1) == NULL);
	CHECK(graft_fdt_get(1 << 20) == NULL);
	CHECK(graft_fdt_count() == 0);

	/* descending, so the first insert grows the table once */
	for (fd = N - 1; fd >= 0; fd -= 2) {
		s = graft_sock_new(AF_INET, SOCK_STREAM, fd);
		CHECK(s && graft_fdt_set(fd, s) == 0);
	}
	CHECK(graft_fdt_capacity() >= N);
	CHECK(graft_fdt_count() == N / 2);

	/* ascending past the end: realloc keeps what was there */
	for (fd = N; fd < 2 * N; fd++) {
		s = graft_sock_new(AF_INET6, SOCK_DGRAM, fd);
		CHECK(s && graft_fdt_set(fd, s) == 0);
	}
	CHECK(graft_fdt_capacity() >= 2 * N);
	CHECK(graft_fdt_count() == N / 2 + N);
	for (fd = 0; fd < 2 * N; fd++) {
		s = graft_fdt_get(fd);
		if (fd < N && fd % 2 == 0) {
			CHECK(s == NULL);
			continue;
		}
		CHECK(s != NULL);
		if (s)
			CHECK(s->protocol == fd &&
			      s->family == (fd < N ? AF_INET : AF_INET6));
	}

	/* replacing an entry keeps the count */
	s = graft_sock_new(AF_INET, SOCK_DGRAM, 77);
	CHECK(graft_fdt_set(1, s) == 0);
	CHECK(graft_fdt_count() == N / 2 + N);
	CHECK(graft_fdt_get(1)->protocol == 77);

	/* dup copies with a fresh id; dup of an untracked fd clears newfd */
	graft_fdt_get(1)->state = GRAFT_GRAFTED;
	graft_fdt_dup(1, 20000);
	CHECK(graft_fdt_get(20000) != NULL);
	CHECK(graft_fdt_get(20000) != graft_fdt_get(1));
	CHECK(graft_fdt_get(20000)->id != graft_fdt_get(1)->id);
	CHECK(graft_fdt_get(20000)->state == GRAFT_GRAFTED);
	CHECK(graft_fdt_count() == N / 2 + N + 1);
	graft_fdt_dup(0, 20000);
	CHECK(graft_fdt_get(20000) == NULL);
	CHECK(graft_fdt_count() == N / 2 + N);
	graft_fdt_dup(1, 1);
	CHECK(graft_fdt_get(1) != NULL);

	/* drops */
	graft_fdt_drop(1);
	graft_fdt_drop(1);
	CHECK(graft_fdt_get(1) == NULL);
	CHECK(graft_fdt_count() == N / 2 + N - 1);
	graft_fdt_drop_range(0, 4294967295u);
	CHECK(graft_fdt_count() == 0);
	for (fd = 0; fd < 2 * N; fd++)
		CHECK(graft_fdt_get(fd) == NULL);

	/* a closed socket's entry serves the next one, cleared but for its
	 * options (nopts says none is valid), with a new id */
	s = graft_fdt_new(5, AF_INET6, SOCK_STREAM, IPPROTO_TCP);
	CHECK(s != NULL && graft_fdt_get(5) == s);
	if (s) {
		uint64_t id = s->id;

		s->state = GRAFT_GRAFTED;
		s->host_family = AF_UNIX;
		s->foreign = s->accepted = s->bound = s->bound_any = true;
		strcpy(s->ep, "old-ep");
		s->born = 42;
		s->local_len = 16;
		s->local.ss_family = AF_INET6;
		s->nopts = 1;
		s->opts[0].level = 4242;
		graft_fdt_drop(5);
		CHECK(graft_fdt_count() == 0);
		CHECK(graft_fdt_new(9, AF_INET, SOCK_DGRAM, 0) == s);
		CHECK(graft_fdt_get(9) == s && graft_fdt_count() == 1);
		CHECK(s->id != id && s->family == AF_INET &&
		      s->type == SOCK_DGRAM && s->protocol == 0 &&
		      s->state == GRAFT_CANDIDATE && s->host_family == AF_INET);
		CHECK(!s->foreign && !s->accepted && !s->bound &&
		      !s->bound_any && !s->ep[0] && s->born == 0 &&
		      s->local_len == 0 && s->local.ss_family == 0 &&
		      s->nopts == 0);
		/* the options were left as they were: no 1.4 KiB cleared
		 * (a freed and newly zeroed entry would not have this) */
		CHECK(s->opts[0].level == 4242);
		/* so does one a replacement pushed out */
		CHECK(graft_fdt_set(9, graft_sock_new(AF_INET, SOCK_STREAM, 0)) == 0);
		CHECK(graft_fdt_new(10, AF_INET, SOCK_STREAM, 0) == s);
		graft_fdt_drop_range(0, 100);
	}
	CHECK(graft_fdt_count() == 0);
	graft_fdt_unlock();
	UNIT_DONE();
}
