/* SPDX-License-Identifier: MIT */
/*
 * real.c — the table of the next object's definitions of the hooked calls
 * (filled by init.c). Apart so the unit tests can link the parts that use it
 * without the hooks.
 */
#include "libgraft.h"

struct graft_real graft_real;
