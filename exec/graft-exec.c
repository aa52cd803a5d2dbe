/* SPDX-License-Identifier: MIT */
/*
 * graft-exec — the exec helper of `graft run --mode seccomp`.
 *
 *   graft-exec --socket PATH [--metadata TEXT] [--trap names|accept]... -- CMD [ARG...]
 *
 * It runs where the program will run (inside the namespace `graft run`
 * chose), installs a seccomp filter that hands bind/connect/sendto/sendmsg/
 * sendmmsg to a user-space supervisor (SECCOMP_RET_USER_NOTIF), sends the
 * filter's listener descriptor to the broker's seccomp socket, waits for the
 * broker to accept it, and execs CMD. Everything else the program does runs
 * untouched: the data path never meets the filter.
 *
 * `--trap names` also hands over getsockname() (the program's view of a
 * socket it bound, as libgraft shows it); `--trap accept` accept(), accept4()
 * and getpeername() (a socket on a Unix endpoint shows INET addresses).
 * `graft run` asks for them only when they matter: ingress mappings, and
 * mappings onto Unix endpoints.
 *
 * The message is the one OCI runtimes send to a seccomp agent (the runtime
 * spec's `listenerPath`): the container process state as JSON, the listener
 * attached with SCM_RIGHTS, then end of stream. `metadata` carries the
 * mappings as `graft run` writes them ("-i 0.0.0.0:80=web -e 0.0.0.0/0=out").
 * The broker answers one line, "ok" or the reason it refused.
 *
 * The filter is per thread: the message is sent by a second thread started
 * before the filter exists, so its connect() and sendmsg() are not trapped.
 *
 * Installing a filter needs no_new_privs unless the caller has CAP_SYS_ADMIN.
 * graft-exec tries without it first, so a privileged launcher keeps set-id
 * programs' privileges; otherwise it sets no_new_privs and says so in one line
 * when the program is set-id or carries file capabilities.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#define REPLY_MAX 512
#define REPLY_TIMEOUT_MS 10000
#define X32_SYSCALL_BIT 0x40000000u

/* Extra calls to trap (--trap). */
enum { TRAP_NAMES = 1, TRAP_ACCEPT = 2 };

struct opts {
	const char *socket;
	const char *metadata;
	int traps;
	char **cmd;
};

/* What travels between the main thread and the sender thread. */
struct sender {
	const char *metadata;
	int sock;         /* connected to the broker, or -1 */
	int pipe[2];      /* main -> sender: the listener descriptor */
	int listener;
	char reply[REPLY_MAX];
	char err[256];
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("graft: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void)
{
	fputs("usage: graft-exec --socket PATH [--metadata TEXT] [--trap names|accept]... "
	      "-- CMD [ARG...]\n", stderr);
	exit(2);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->metadata = "";
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--socket"))
			o->socket = argv[++i];
		else if (!strcmp(argv[i], "--metadata"))
			o->metadata = argv[++i];
		else if (!strcmp(argv[i], "--trap") && !strcmp(argv[i + 1], "names"))
			o->traps |= TRAP_NAMES, i++;
		else if (!strcmp(argv[i], "--trap") && !strcmp(argv[i + 1], "accept"))
			o->traps |= TRAP_ACCEPT, i++;
		else
			usage();
	}
	if (!o->socket || i >= argc)
		usage();
	o->cmd = argv + i;
}

/*
 * Whether connect/sendto/sendmsg must be trapped: the metadata names egress
 * mappings ("-e ..."), or no mappings at all (those that live with the
 * namespace apply, whatever they are).
 */
static int wants_egress(const char *meta)
{
	int ingress = 0, egress = 0;
	const char *p;

	for (p = meta; (p = strchr(p, '-')) != NULL; p++) {
		if ((p != meta && p[-1] != ' ') || p[2] != ' ')
			continue;
		ingress |= p[1] == 'i';
		egress |= p[1] == 'e';
	}
	return egress || !ingress;
}

#define STMT(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP(code, k, jt, jf))
#define LOAD(field) STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define ARG_LO(n) STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]))
#define ARG_HI(n) STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]) + 4)

/*
 * The filter. Only x86_64 system calls are trapped (another ABI reaches the
 * namespace's own network, ungrafted, never more). bind is always trapped
 * (an unmapped wildcard bind keeps a socket a candidate for egress);
 * connect, sendmsg and sendmmsg only when there are egress mappings, and
 * sendto only with a destination address (argument 4 not NULL).
 * io_uring_setup fails with ENOSYS: io_uring's connect would bypass the
 * filter, and programs fall back to ordinary calls. `traps` adds getsockname
 * (TRAP_NAMES) and accept, accept4, getpeername (TRAP_ACCEPT).
 */
static size_t build_filter(struct sock_filter *f, int egress, int traps)
{
	size_t n = 0;
	const unsigned int notify = SECCOMP_RET_USER_NOTIF;
	const unsigned int allow = SECCOMP_RET_ALLOW;

	f[n++] = LOAD(arch);
	f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = STMT(BPF_RET | BPF_K, allow);
	f[n++] = LOAD(nr);
	f[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
	f[n++] = STMT(BPF_RET | BPF_K, allow);
	f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
	f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bind, 0, 1);
	f[n++] = STMT(BPF_RET | BPF_K, notify);
	if (traps & TRAP_NAMES) {
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getsockname, 0, 1);
		f[n++] = STMT(BPF_RET | BPF_K, notify);
	}
	if (traps & TRAP_ACCEPT) {
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_accept, 2, 0);
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_accept4, 1, 0);
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getpeername, 0, 1);
		f[n++] = STMT(BPF_RET | BPF_K, notify);
	}
	if (egress) {
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 2, 0);
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmsg, 1, 0);
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmmsg, 0, 1);
		f[n++] = STMT(BPF_RET | BPF_K, notify);
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 5);
		/* sendto(fd, buf, len, flags, addr, addrlen): addr != NULL */
		f[n++] = ARG_LO(4);
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2);
		f[n++] = ARG_HI(4);
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
		f[n++] = STMT(BPF_RET | BPF_K, notify);
	}
	f[n++] = STMT(BPF_RET | BPF_K, allow);
	return n;
}

static int seccomp_listener(struct sock_fprog *prog)
{
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
}

/* Install the filter; returns the listener. *nnp says whether no_new_privs was needed. */
static int install_filter(int egress, int traps, int *nnp)
{
	struct sock_filter f[48];
	struct sock_fprog prog = { .filter = f };
	int fd;

	prog.len = (unsigned short)build_filter(f, egress, traps);
	*nnp = 0;
	fd = seccomp_listener(&prog);
	if (fd < 0 && errno == EACCES) {
		/* Not privileged: the kernel insists on no_new_privs. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			die("cannot set no_new_privs: %s", strerror(errno));
		*nnp = 1;
		fd = seccomp_listener(&prog);
	}
	if (fd < 0) {
		if (errno == EINVAL || errno == ENOSYS)
			die("this kernel has no seccomp user notification (Linux 5.9 or later needed): "
			    "use --mode preload");
		die("cannot install the seccomp filter: %s", strerror(errno));
	}
	return fd;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The OCI container process state, as runtimes send it to a seccomp agent. */
static char *state_json(const char *metadata, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	int pid = getpid();

	if (!f)
		die("out of memory");
	fprintf(f, "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d,"
		   "\"metadata\":", pid);
	json_string(f, metadata);
	fprintf(f, ",\"state\":{\"ociVersion\":\"1.0.2\",\"id\":\"graft-run-%d\","
		   "\"status\":\"creating\",\"pid\":%d,\"bundle\":\"\"}}", pid, pid);
	if (fclose(f) != 0)
		die("out of memory");
	return buf;
}

static int connect_broker(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "broker seccomp socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot reach the broker's seccomp socket %s: %s "
			 "(is \"graft daemon\" running?)", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_state(int sock, const char *json, size_t len, int listener)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)json, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	memset(&ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &listener, sizeof(int));
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -1;
	/* The rest, if the socket took only part of it (no descriptor again). */
	while ((size_t)n < len) {
		ssize_t m = send(sock, json + n, len - (size_t)n, MSG_NOSIGNAL);

		if (m <= 0)
			return -1;
		n += m;
	}
	return shutdown(sock, SHUT_WR);
}

/* Read the broker's one-line answer (until end of stream or the timeout). */
static void read_reply(int sock, char *reply, size_t max)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	size_t got = 0;

	while (got + 1 < max && poll(&p, 1, REPLY_TIMEOUT_MS) > 0) {
		ssize_t n = read(sock, reply + got, max - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	const char *json = NULL;
	size_t len = 0;

	if (read(s->pipe[0], &s->listener, sizeof(int)) != sizeof(int))
		return NULL;
	if (s->sock < 0)
		return NULL;
	json = state_json(s->metadata, &len);
	if (send_state(s->sock, json, len, s->listener) < 0)
		snprintf(s->err, sizeof(s->err), "cannot send the seccomp listener to the broker: %s",
			 strerror(errno));
	else
		read_reply(s->sock, s->reply, sizeof(s->reply));
	free((void *)json);
	return NULL;
}

/* Set-id bits or file capabilities: privileges no_new_privs takes away. */
static const char *privileged_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return NULL;
	if (st.st_mode & S_ISUID)
		return "set-user-ID";
	if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP))
		return "set-group-ID";
	if (getxattr(path, "security.capability", NULL, 0) > 0)
		return "file-capability";
	return NULL;
}

/* CMD as execvp would find it, for the privilege note only. */
static const char *resolve(const char *cmd, char *buf, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/') || !path)
		return cmd;
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, len, "%.*s/%s", (int)n, path, cmd);
		if (access(buf, X_OK) == 0)
			return buf;
		path += n + (path[n] == ':');
	}
	return cmd;
}

int main(int argc, char **argv)
{
	struct sender s = { .sock = -1, .listener = -1 };
	int nnp, listener;
	char pathbuf[4096];
	const char *why;
	pthread_t t;
	struct opts o;

	parse_args(argc, argv, &o);
	if (pipe2(s.pipe, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	s.sock = connect_broker(o.socket, s.err, sizeof(s.err));
	if (s.sock < 0)
		die("%s", s.err);
	s.metadata = o.metadata;
	/* Started before the filter exists: this thread is never trapped. */
	if (pthread_create(&t, NULL, sender_main, &s) != 0)
		die("cannot start a thread");
	listener = install_filter(wants_egress(o.metadata), o.traps, &nnp);
	if (write(s.pipe[1], &listener, sizeof(int)) != sizeof(int))
		die("pipe: %s", strerror(errno));
	pthread_join(t, NULL);
	close(listener);
	close(s.sock);
	close(s.pipe[0]);
	close(s.pipe[1]);
	if (s.err[0])
		die("%s", s.err);
	if (strcmp(s.reply, "ok") != 0)
		die("%s", s.reply[0] ? s.reply : "the broker closed the seccomp socket without an answer");
	why = nnp ? privileged_file(resolve(o.cmd[0], pathbuf, sizeof(pathbuf))) : NULL;
	if (why)
		fprintf(stderr, "graft: %s is a %s program: it runs without its privileges "
			"(no_new_privs); run graft as root to keep them\n", o.cmd[0], why);
	execvp(o.cmd[0], o.cmd);
	die("%s: %s", o.cmd[0], errno == ENOENT ? "command not found" : strerror(errno));
}
