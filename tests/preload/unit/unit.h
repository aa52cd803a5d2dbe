/* SPDX-License-Identifier: MIT */
/* Minimal unit test helpers for the preload library's C tests. */
#ifndef GRAFT_UNIT_H
#define GRAFT_UNIT_H

#include <stdio.h>
#include <stdlib.h>

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

#endif /* GRAFT_UNIT_H */
