/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for fdtable.c: growth past 5000 descriptors, dup copies,
 * drops, range drops and the tracked count.
 */
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
	graft_fdt_unlock();
	UNIT_DONE();
}
