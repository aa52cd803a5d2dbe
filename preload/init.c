/* SPDX-License-Identifier: MIT */
/*
 * init.c — start-up (pthread_once, also run from a constructor): read the
 * environment and register the fork handlers. The real libc functions are
 * looked up on first use (real.c).
 */
#include <pthread.h>

#include "backend.h"
#include "fdtable.h"
#include "libgraft.h"

static const char graft_version_tag[] __attribute__((used)) =
	"@(#)libgraft " GRAFT_VERSION;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pid_t self_pid;

pid_t graft_self_pid(void)
{
	return self_pid;
}

/*
 * fork(): every lock is held across it, so the child gets consistent
 * tables; the child then closes what other threads held (their broker
 * connections and client-socket stocks), which it could never use.
 */
static void atfork_prepare(void)
{
	/* The child may call hooks before exec, where dlsym() must not run. */
	graft_real_resolve_all();
	graft_fdt_atfork_prepare();
	graft_broker_atfork_prepare();
	graft_pool_atfork_prepare();
}

static void atfork_parent(void)
{
	graft_pool_atfork_parent();
	graft_broker_atfork_parent();
	graft_fdt_atfork_parent();
}

static void atfork_child(void)
{
	self_pid = getpid();
	graft_pool_atfork_child();
	graft_broker_atfork_child();
	graft_fdt_atfork_child();
}

static void graft_do_init(void)
{
	graft_config_load();
	if (graft_cfg.maps.nin == 0 && graft_cfg.maps.neg == 0) {
		graft_trace("no mappings: passing everything through");
		graft_cfg.passthrough = true;
	}
	self_pid = getpid();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	graft_trace("libgraft %s ready", GRAFT_VERSION);
}

void graft_init(void)
{
	pthread_once(&init_once, graft_do_init);
}

__attribute__((constructor)) static void graft_constructor(void)
{
	graft_init();
}
