/* SPDX-License-Identifier: MIT */
/*
 * libgraft.so private header: start-up state, the real libc symbols, logging
 * and socket address helpers shared by every part of the library.
 */
#ifndef GRAFT_LIBGRAFT_H
#define GRAFT_LIBGRAFT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <fcntl.h>
#include <unistd.h>

#include "graft_proto.h"
#include "hook_table.h"
#include "mapping.h"

#ifndef GRAFT_VERSION
#define GRAFT_VERSION "unknown"
#endif

#define GRAFT_LIB_NAME "libgraft.so"

/* The hooks are the only symbols the library exports. */
#define GRAFT_EXPORT __attribute__((visibility("default")))

enum graft_backend_kind {
	GRAFT_BACKEND_BROKER,
	GRAFT_BACKEND_KERNEL,
};

/* Everything read from the environment once, at start-up. */
struct graft_config {
	struct graft_maps maps;
	enum graft_backend_kind backend;
	bool verbose;
	bool names_host; /* GRAFT_NAMES=host: getsockname() shows the host's view */
	bool passthrough; /* the library refused to start: hooks only forward */
	char socket_path[108];
};

extern struct graft_config graft_cfg;

/*
 * The functions this library hooks, as the next object defines them: one
 * slot per row of hook_table.h, looked up on first use (real.c). Call one
 * as GRAFT_REAL(close)(fd); a function that may be missing (a row whose
 * `required` is false) through GRAFT_REAL_OPT, which gives NULL then.
 */
#define GRAFT_REAL_ID(name, required, ret, params, call) GRAFT_REAL_##name,
enum graft_real_id { GRAFT_HOOKS(GRAFT_REAL_ID, GRAFT_REAL_ID) GRAFT_REAL_COUNT };
#undef GRAFT_REAL_ID

extern void *graft_real_slot[GRAFT_REAL_COUNT];
/* The slot of a function that is missing (never a function's address). */
extern const char graft_real_missing;

/* Look up one function now (real.c); refuses to go on as start-up did. */
void *graft_real_resolve(enum graft_real_id id);
/* Look up every one not looked up yet: before anything that may call a
 * hook where dlsym() must not run (a signal handler, a forked child). */
void graft_real_resolve_all(void);

static inline void *graft_real_get(enum graft_real_id id)
{
	void *p = __atomic_load_n(&graft_real_slot[id], __ATOMIC_ACQUIRE);

	return __builtin_expect(p != NULL, 1) ? p : graft_real_resolve(id);
}

static inline void *graft_real_opt(enum graft_real_id id)
{
	void *p = graft_real_get(id);

	return p == (const void *)&graft_real_missing ? NULL : p;
}

#define GRAFT_REAL(name) ((__typeof__(name) *)graft_real_get(GRAFT_REAL_##name))
#define GRAFT_REAL_OPT(name) \
	((__typeof__(name) *)graft_real_opt(GRAFT_REAL_##name))

/* This process's id, without a system call (updated in a forked child). */
pid_t graft_self_pid(void);

/* Read the environment and register the fork handlers; idempotent. */
void graft_init(void);
/* Fill graft_cfg from the environment (config.c). */
void graft_config_load(void);

/* Logging: errors always, traces only with GRAFT_VERBOSE=1. One write each. */
/* nsmaps.c: the namespace's default mappings from the broker. */
void graft_nsmaps_load(struct graft_maps *maps);

void graft_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void graft_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void graft_vlog(const char *prefix, const char *fmt, va_list ap);

/* Socket address helpers (addr.c). */
#define GRAFT_ADDRSTR_MAX 80

/* Is addr a complete AF_INET or AF_INET6 address? */
bool graft_addr_is_inet(const struct sockaddr *addr, socklen_t len);
/* The port of an AF_INET/AF_INET6 address, host order. */
uint16_t graft_addr_port(const struct sockaddr *addr);
/* "1.2.3.4:80", "[::1]:80", "unix:/path" into buf (GRAFT_ADDRSTR_MAX). */
const char *graft_addr_str(const struct sockaddr *addr, socklen_t len,
			   char *buf);
/* The unspecified address of family with port 0; returns its length. */
socklen_t graft_addr_unspec(int family, struct sockaddr_storage *out);
/*
 * Copy src (srclen bytes) to an application buffer the way the kernel does:
 * truncate to *len, then set *len to srclen.
 */
void graft_addr_copyout(const void *src, socklen_t srclen,
			struct sockaddr *dst, socklen_t *len);

/*
 * Convert src to family: same family copies; AF_INET <-> IPv4-mapped
 * AF_INET6 translates. Anything else gives 0 when strict, else the
 * unspecified address of family (keeping an INET port). Returns the length.
 */
socklen_t graft_addr_convert(const struct sockaddr *src, socklen_t srclen,
			     int family, bool strict,
			     struct sockaddr_storage *out);

#endif /* GRAFT_LIBGRAFT_H */
