/* SPDX-License-Identifier: MIT */
/*
 * Speculative client sockets (spec.c): socket() served from the stock of
 * the endpoint this thread last grafted a client onto.
 */
#ifndef GRAFT_SPEC_H
#define GRAFT_SPEC_H

#include <stdbool.h>
#include <stdint.h>

/*
 * For socket(domain, type, protocol) of a tracked family: a stocked host
 * socket, tracked as GRAFT_SPECULATIVE, with SOCK_NONBLOCK and SOCK_CLOEXEC
 * as asked; or -1 when not speculating (the caller makes the namespace
 * socket). Never fails otherwise.
 */
int graft_spec_socket(int domain, int type, int protocol);

/*
 * If fd is speculative, put a namespace socket in its place (same type and
 * flags, recorded options) and make it a candidate; why names the call for
 * messages. 0, or -1 with errno when no socket could be made (fd is left
 * as it was).
 */
int graft_spec_settle(int fd, const char *why);

/* Is a speculative socket made at `born` still young enough to connect
 * through its endpoint (an endpoint redefined since is picked up)? */
bool graft_spec_fresh(uint64_t born);

/* Count one speculative socket used for a grafted connect, or not. */
void graft_spec_outcome(bool used);

#endif /* GRAFT_SPEC_H */
