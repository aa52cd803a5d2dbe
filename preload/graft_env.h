/* SPDX-License-Identifier: MIT */
/*
 * Environment variables read by libgraft.so. Every name is defined here and
 * only here; the launcher (`graft run`) sets the same names.
 */
#ifndef GRAFT_ENV_H
#define GRAFT_ENV_H

/* Ingress mappings: "ADDR:PORT[-PORT]=EP", whitespace or comma separated. */
#define GRAFT_ENV_INGRESS "GRAFT_INGRESS_CONVERT"
/* Egress mappings: "PREFIX/LEN=EP", whitespace or comma separated. */
#define GRAFT_ENV_EGRESS "GRAFT_EGRESS_CONVERT"
/* "1" prints a trace of every decision on stderr. */
#define GRAFT_ENV_VERBOSE "GRAFT_VERBOSE"
/* Path of the broker's Unix socket (default GRAFT_DEFAULT_SOCKET). */
#define GRAFT_ENV_SOCKET "GRAFT_SOCKET"
/* "broker" (default) or "kernel". */
#define GRAFT_ENV_BACKEND "GRAFT_BACKEND"
/* "0" turns off the per-thread stock of pre-bound client sockets. */
#define GRAFT_ENV_POOL "GRAFT_POOL"

/* What getsockname() shows on a socket grafted by bind(): "program" (default:
 * the address and port the program bound) or "host" (the host socket's). */
#define GRAFT_ENV_NAMES "GRAFT_NAMES"

#endif /* GRAFT_ENV_H */
