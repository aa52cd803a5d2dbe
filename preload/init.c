/* SPDX-License-Identifier: MIT */
/*
 * init.c — start-up: resolve the real libc symbols once (pthread_once, also
 * run from a constructor), refuse to start if a symbol resolves back into
 * this library, read the environment, and register the fork handlers.
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* Where this library is mapped, to spot symbols that resolve into it. */
struct extent {
	uintptr_t lo, hi;
};

/* dl_iterate_phdr(): the object holding init_once is this library. */
static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0, me = (uintptr_t)&init_once;
	struct extent *e = data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (me < lo || me >= hi)
		return 0;
	e->lo = lo;
	e->hi = hi;
	return 1;
}

/*
 * Look up one symbol in the objects after this one. Returns false when a
 * required symbol is missing or when it is our own hook. (An address range,
 * not dladdr(): dladdr() scans the whole symbol table of the object it
 * lands in, libc's thousands, about 10 µs per hook at every program start.)
 */
static bool resolve(void **slot, const char *name, bool required,
		    const struct extent *self)
{
	void *p = dlsym(RTLD_NEXT, name);

	*slot = NULL;
	if (!p) {
		if (required)
			graft_error("cannot find the real %s(): %s", name,
				    dlerror());
		return !required;
	}
	if ((uintptr_t)p >= self->lo && (uintptr_t)p < self->hi) {
		graft_error("%s() resolves to libgraft itself; is it "
			    "preloaded twice?",
			    name);
		return false;
	}
	*slot = p;
	return true;
}

static void graft_do_init(void)
{
	struct extent self = { 0, 0 };
	bool ok = true;

	dl_iterate_phdr(find_self, &self);
#define GRAFT_RESOLVE(name, required, ret, params, call) \
	ok = resolve((void **)&graft_real.name, #name, (required), &self) && ok;
	GRAFT_HOOKS(GRAFT_RESOLVE, GRAFT_RESOLVE)
#undef GRAFT_RESOLVE
	if (!ok) {
		/* Without the real functions there is nothing to forward to. */
		graft_error("refusing to start (version %s)", GRAFT_VERSION);
		abort();
	}

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
