/* SPDX-License-Identifier: MIT */
/*
 * Backends: each turns a graft request into a bound host-namespace socket.
 *
 *   broker  ask `graft daemon` over GRAFT_SOCKET (graft_proto.h); the fd comes
 *           back with SCM_RIGHTS.
 *   kernel  socket(AF_GRAFT), replay the options, bind to struct sockaddr_gr.
 *
 * Both return 0 and fill res->fd (close-on-exec), or return a positive errno
 * with res->msg saying why in words.
 */
#ifndef GRAFT_BACKEND_H
#define GRAFT_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "graft_proto.h"

struct graft_request {
	const char *ep;
	int family; /* the application's: AF_INET or AF_INET6 */
	int type;   /* no flag bits */
	int protocol;
	uint16_t port; /* requested port, host order; 0 = any */
	uint16_t nopts;
	const struct graft_sockopt *opts;
};

struct graft_result {
	int fd;
	int family; /* of fd: AF_INET, AF_INET6 or AF_UNIX */
	socklen_t addrlen;
	struct sockaddr_storage addr; /* where fd is bound, when known */
	char msg[GRAFT_MSG_MAX + 128];
	bool broker_replied; /* a well-formed reply arrived (status may be an error) */
};

int graft_broker_request(const struct graft_request *req,
			 struct graft_result *res);
int graft_kernel_request(const struct graft_request *req,
			 struct graft_result *res);
int graft_broker_request_many(const struct graft_request *req, uint32_t count,
			      int *fds, int *nfds, struct graft_result *res);

/*
 * GRAFT_OP_SOCKETS without waiting: graft_broker_post() sends the request on
 * this thread's connection (at most one outstanding: EBUSY otherwise) and
 * graft_broker_collect() reads its reply later, like request_many (fds holds
 * GRAFT_SOCKETS_MAX). collect returns EAGAIN when !wait and the reply is not
 * there yet, ENOENT when nothing is outstanding (or the connection is gone).
 * A synchronous request on the connection throws an outstanding reply away.
 */
int graft_broker_post(const struct graft_request *req, uint32_t count);
int graft_broker_collect(bool wait, int *fds, int *nfds,
			 struct graft_result *res);

/* fork() handlers: the child closes every thread's broker connection. */
void graft_broker_atfork_prepare(void);
void graft_broker_atfork_parent(void);
void graft_broker_atfork_child(void);

/*
 * The client-socket pool (pool.c): for SOCK_STREAM grafts asking for no port
 * on a `port dynamic` endpoint, sockets come from a per-thread stock the
 * broker fills in batches. Returns 0 (res->fd set), a positive errno, or
 * GRAFT_POOL_SKIP when the request is not one the pool serves.
 */
#define GRAFT_POOL_SKIP (-1)
int graft_pool_request(const struct graft_request *req,
		       struct graft_result *res);
/* Read a refill still due, so the connection is free for another request. */
void graft_pool_settle(void);

/* May an option set before connect() be set on a socket the broker already
 * bound (a stocked one)? */
bool graft_option_fits_after_bind(int level, int name);

/*
 * A stocked socket for a speculative socket() (spec.c): from the stock of
 * the endpoint this thread (else this process) last grafted a client of
 * `family` onto, once the process has grafted one through the stock at all.
 * Never starts a round trip of its own (it may wait for a refill already
 * on its way). 0 and *out filled, ENOENT when there is nothing to give.
 */
struct graft_spec_sock {
	int fd; /* close-on-exec, blocking (unless typed) */
	bool typed; /* fd has the SOCK_CLOEXEC/SOCK_NONBLOCK socket() asked */
	int host_family;
	uint64_t born; /* when it was made (CLOCK_MONOTONIC_COARSE ns) */
	char ep[GRAFT_EPNAME_MAX];
};
int graft_pool_speculate(int family, int protocol, struct graft_spec_sock *out);
/* Is a stocked socket made at `born` still young enough to use? */
bool graft_pool_fresh(uint64_t born);

/*
 * The kernel backend's speculation (kernel.c), same contract: an AF_GRAFT
 * socket bound to the endpoint the process last grafted a stream client of
 * `family` onto with no port, made now with the descriptor flags of `type`
 * (typed). spec.c's spec_take() and graft_spec_fresh() dispatch to them.
 */
int graft_kernel_speculate(int family, int type, int protocol,
			   struct graft_spec_sock *out);
bool graft_kernel_fresh(uint64_t born);

/* fork() handlers: the child closes every thread's stock. */
void graft_pool_atfork_prepare(void);
void graft_pool_atfork_parent(void);
void graft_pool_atfork_child(void);

#endif /* GRAFT_BACKEND_H */
