/* SPDX-License-Identifier: MIT */
/*
 * The bind guard: a client socket the broker hands out stays where the
 * endpoint put it.
 *
 * A TCP client socket of a `port dynamic` endpoint is bound to the
 * endpoint's address with IP_BIND_ADDRESS_NO_PORT: connect() picks the port
 * from the whole 4-tuple, so nothing is reserved (docs/broker-protocol.md).
 * The kernel lets such a socket, which has an address but no port yet, be
 * bound again (inet_bind only refuses a socket with a port), so the program
 * holding it could move it to any address and unprivileged port of the
 * target namespace and listen there (an ingress on the host's interfaces
 * through a loopback endpoint), or set SO_REUSEPORT and join a reuse group
 * of a service running as its own uid (root in a container without a user
 * namespace: a share of a root service's connections).
 *
 * The sockets are made by the broker, so they belong to its cgroup (v2),
 * whose cgroup-BPF bind hooks run for every bind() on them, whoever calls
 * it. graft_bind_guard() attaches, through BPF links held by this process
 * (gone with it), one program for inet4 and one for inet6 binds: a bind()
 * on a socket that has an address and no port is refused (EPERM). Nothing
 * else is: a fresh socket binds as before, and a socket with a port gets
 * the kernel's own EINVAL. The rule holds for every process of the
 * broker's cgroup and below; no program binds a socket twice on purpose.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "graft_native.h"

#define GN_EXPORT __attribute__((visibility("default")))

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define LDX_DW(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define OR_REG(d, s) INSN(BPF_ALU64 | BPF_OR | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define JNE_IMM(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define JEQ_IMM(d, i, o) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#define SK offsetof(struct bpf_sock_addr, sk)
#define PORT offsetof(struct bpf_sock, src_port)
#define IP4 offsetof(struct bpf_sock, src_ip4)
#define IP6(i) (offsetof(struct bpf_sock, src_ip6) + 4 * (i))

/*
 * r0 = 1 (allow); r2 = ctx->sk; a port: allow; r3 = its address (for
 * inet6 the four words or'ed); none: allow; else r0 = 0 (EPERM).
 */
static const struct bpf_insn guard4[] = {
	MOV_IMM(BPF_REG_0, 1),
	LDX_DW(BPF_REG_2, BPF_REG_1, SK),
	LDX_W(BPF_REG_3, BPF_REG_2, PORT),
	JNE_IMM(BPF_REG_3, 0, 3),
	LDX_W(BPF_REG_3, BPF_REG_2, IP4),
	JEQ_IMM(BPF_REG_3, 0, 1),
	MOV_IMM(BPF_REG_0, 0),
	EXIT(),
};

static const struct bpf_insn guard6[] = {
	MOV_IMM(BPF_REG_0, 1),
	LDX_DW(BPF_REG_2, BPF_REG_1, SK),
	LDX_W(BPF_REG_3, BPF_REG_2, PORT),
	JNE_IMM(BPF_REG_3, 0, 9),
	LDX_W(BPF_REG_3, BPF_REG_2, IP6(0)),
	LDX_W(BPF_REG_4, BPF_REG_2, IP6(1)),
	OR_REG(BPF_REG_3, BPF_REG_4),
	LDX_W(BPF_REG_4, BPF_REG_2, IP6(2)),
	OR_REG(BPF_REG_3, BPF_REG_4),
	LDX_W(BPF_REG_4, BPF_REG_2, IP6(3)),
	OR_REG(BPF_REG_3, BPF_REG_4),
	JEQ_IMM(BPF_REG_3, 0, 1),
	MOV_IMM(BPF_REG_0, 0),
	EXIT(),
};

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* What the verifier said of a program it refused, for the message. */
static char vlog[16384];

static int load_logged(const struct bpf_insn *insns, unsigned int n, enum bpf_attach_type at,
		       uint32_t level)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	a.expected_attach_type = at;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = n;
	a.license = (uint64_t)(uintptr_t)"Dual MIT/GPL";
	if (level) {
		a.log_buf = (uint64_t)(uintptr_t)vlog;
		a.log_size = sizeof(vlog);
		a.log_level = level;
	}
	memcpy(a.prog_name, "graft_bind", sizeof("graft_bind"));
	return sys_bpf(BPF_PROG_LOAD, &a);
}

/* The program's descriptor; when refused, -1 with errno and vlog set. */
static int load(const struct bpf_insn *insns, unsigned int n, enum bpf_attach_type at)
{
	int fd = load_logged(insns, n, at, 0), e = errno;
	char *last;

	vlog[0] = 0;
	if (fd >= 0 || e == EPERM)
		return fd;
	if (load_logged(insns, n, at, 1) < 0) {
		/* the last complete line says why */
		vlog[sizeof(vlog) - 1] = 0;
		while ((last = strrchr(vlog, '\n')) && !last[1])
			*last = 0;
		if ((last = strrchr(vlog, '\n')))
			memmove(vlog, last + 1, strlen(last + 1) + 1);
	}
	errno = e;
	return -1;
}

static int link_to(int prog, int cgroup, enum bpf_attach_type at)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = (uint32_t)prog;
	a.link_create.target_fd = (uint32_t)cgroup;
	a.link_create.attach_type = at;
	return sys_bpf(BPF_LINK_CREATE, &a);
}

/* This process's cgroup v2 directory (/proc/self/cgroup "0::PATH" under
 * the cgroup2 mount of /proc/self/mountinfo), opened; -errno. */
static int open_own_cgroup(char *msg, uint32_t msglen)
{
	char line[4096], rel[4096] = "", mnt[2048] = "", path[sizeof(mnt) + sizeof(rel)];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int fd;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0; /* a name may hold spaces: the rest of the line */
		memcpy(rel, line + 3, strlen(line + 3) + 1);
		break;
	}
	fclose(f);
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - cgroup2 ");
		char root[2048], point[2048];

		/* ID PARENT MAJ:MIN ROOT POINT ... - cgroup2 SRC OPTS: the mount of
		 * the hierarchy's root (a path in /proc/self/cgroup is from there) */
		if (dash && sscanf(line, "%*s %*s %*s %2047s %2047s", root, point) == 2 &&
		    !strcmp(root, "/")) {
			memcpy(mnt, point, sizeof(mnt));
			break;
		}
	}
	fclose(f);
	if (!rel[0] || !mnt[0]) {
		snprintf(msg, msglen, "no cgroup v2 hierarchy (cgroup2 mount and /proc/self/cgroup 0::)");
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		snprintf(msg, msglen, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	snprintf(msg, msglen, "%s", path);
	return fd;
}

GN_EXPORT int32_t graft_bind_guard(int32_t *links, char *msg, uint32_t msglen)
{
	static const struct {
		const struct bpf_insn *insns;
		unsigned int n;
		enum bpf_attach_type at;
		const char *what;
	} g[2] = {
		{ guard4, sizeof(guard4) / sizeof(guard4[0]), BPF_CGROUP_INET4_BIND, "inet4" },
		{ guard6, sizeof(guard6) / sizeof(guard6[0]), BPF_CGROUP_INET6_BIND, "inet6" },
	};
	char where[2048];
	int cg, prog, e, i;

	links[0] = links[1] = -1;
	cg = open_own_cgroup(msg, msglen);
	if (cg < 0)
		return cg;
	snprintf(where, sizeof(where), "%s", msg);
	for (i = 0; i < 2; i++) {
		prog = load(g[i].insns, g[i].n, g[i].at);
		if (prog < 0) {
			e = errno;
			snprintf(msg, msglen, "cannot load the %s bind program: %s%s%.200s", g[i].what,
				 strerror(e), vlog[0] ? "; verifier: " : "", vlog);
			goto fail;
		}
		links[i] = link_to(prog, cg, g[i].at);
		e = errno;
		close(prog); /* the link holds it */
		if (links[i] < 0) {
			snprintf(msg, msglen, "cannot attach the %s bind program to %s: %s", g[i].what,
				 where, strerror(e));
			goto fail;
		}
	}
	close(cg);
	snprintf(msg, msglen, "%s", where);
	return 0;
fail:
	for (i = 0; i < 2; i++) {
		if (links[i] >= 0)
			close(links[i]);
		links[i] = -1;
	}
	close(cg);
	return -e;
}
