/* SPDX-License-Identifier: MIT */
/*
 * real.c — the next object's definitions of the hooked calls, each looked
 * up on its first use: a process that connects once uses a handful of them,
 * and looking up every one at start-up cost every program start (dlsym()
 * walks libc's hash tables; their pages are touched for the first time).
 * Apart from init.c so the unit tests can link the parts that use it
 * without the hooks.
 *
 * A slot goes from NULL to its final value once (several threads may look
 * the same name up at once; they store the same address). dlsym() is not
 * async-signal-safe (it takes the loader's lock and may free an earlier
 * error), so nothing is left to look up where a hook may run in a signal
 * handler or a forked child: every slot is filled before a handler is
 * installed (hook_signal.c) and before fork() (init.c's prepare handler).
 * Not covered: a handler installed with the raw rt_sigaction system call,
 * and a vfork() child (no fork handler runs) calling a hook the parent
 * never called; posix_spawn()'s child calls libc's internal functions,
 * not the hooks.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>

#include "libgraft.h"

void *graft_real_slot[GRAFT_REAL_COUNT];
const char graft_real_missing;

#define GRAFT_REAL_NAME(name, required, ret, params, call) #name,
static const char *const real_name[GRAFT_REAL_COUNT] = {
	GRAFT_HOOKS(GRAFT_REAL_NAME, GRAFT_REAL_NAME)
};
#undef GRAFT_REAL_NAME

#define GRAFT_REAL_REQUIRED(name, required, ret, params, call) (required),
static const bool real_required[GRAFT_REAL_COUNT] = {
	GRAFT_HOOKS(GRAFT_REAL_REQUIRED, GRAFT_REAL_REQUIRED)
};
#undef GRAFT_REAL_REQUIRED

/* Where this library is mapped, to spot symbols that resolve into it:
 * found once (hi != 0 once known; lo is stored first). */
static uintptr_t self_lo, self_hi;

/* dl_iterate_phdr(): the object holding graft_real_slot is this library. */
static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0, me = (uintptr_t)graft_real_slot;

	(void)size;
	(void)data;
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
	__atomic_store_n(&self_lo, lo, __ATOMIC_RELAXED);
	__atomic_store_n(&self_hi, hi, __ATOMIC_RELEASE);
	return 1;
}

static bool is_self(void *p)
{
	uintptr_t hi = __atomic_load_n(&self_hi, __ATOMIC_ACQUIRE);

	if (hi == 0) {
		dl_iterate_phdr(find_self, NULL);
		hi = __atomic_load_n(&self_hi, __ATOMIC_ACQUIRE);
	}
	return (uintptr_t)p >= __atomic_load_n(&self_lo, __ATOMIC_RELAXED) &&
	       (uintptr_t)p < hi;
}

/* Without the real function there is nothing to forward to. */
static void __attribute__((noreturn)) refuse(void)
{
	graft_error("refusing to start (version %s)", GRAFT_VERSION);
	abort();
}

/*
 * Look up one function in the objects after this one. A required one that
 * is missing, or one that is our own hook, stops the process with the
 * errors start-up gave when it looked them all up. (An address range, not
 * dladdr(): dladdr() scans the whole symbol table of the object it lands
 * in, libc's thousands, about 10 µs per name.)
 */
void *graft_real_resolve(enum graft_real_id id)
{
	const char *name = real_name[id];
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		if (real_required[id]) {
			graft_error("cannot find the real %s(): %s", name,
				    dlerror());
			refuse();
		}
		dlerror(); /* leave no error behind for a later dlsym() */
		p = (void *)&graft_real_missing;
	} else if (is_self(p)) {
		graft_error("%s() resolves to libgraft itself; is it "
			    "preloaded twice?",
			    name);
		refuse();
	}
	__atomic_store_n(&graft_real_slot[id], p, __ATOMIC_RELEASE);
	return p;
}

void graft_real_resolve_all(void)
{
	for (int id = 0; id < GRAFT_REAL_COUNT; id++)
		graft_real_get((enum graft_real_id)id);
}
