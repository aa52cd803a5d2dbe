/* SPDX-License-Identifier: MIT */
/*
 * stress — run under libgraft.so with GRAFT_EGRESS_CONVERT=0.0.0.0/0=ep-out
 * (the fake broker binds ep-out to 127.0.0.2), against a listener of its
 * own on 127.0.0.1.
 *
 *   stress many N        N grafted TCP connections open at once
 *   stress threads T S   T threads creating/grafting/closing for S seconds,
 *                        while the main thread forks children that use
 *                        sockets too
 *   stress dup3race N    N times: one thread grafts a socket while another
 *                        closes that descriptor during the broker round
 *                        trip (FAKE_BROKER_DELAY_MS) and opens /dev/null,
 *                        which takes the same number: the graft must fail
 *                        with EBADF and /dev/null must stay /dev/null
 *   stress forkleak      two threads graft (each gets a broker connection
 *                        and a stock of client sockets); a fork()ed child
 *                        must hold none of them
 *   stress ahead N MS    N grafted connects MS ms apart against a broker
 *                        slowed by FAKE_BROKER_DELAY_MS: only the first may
 *                        wait for it (the stock is refilled ahead of need)
 *
 * Each mode checks that grafted sockets have 127.0.0.2 as local address,
 * keep O_NONBLOCK/FD_CLOEXEC, and that no descriptor leaks (counted in
 * /proc/self/fd). Exit status 0 on success.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define FAIL(...)                                                            \
	do {                                                                 \
		fprintf(stderr, "stress: " __VA_ARGS__);                     \
		fputc('\n', stderr);                                         \
		failures++;                                                  \
	} while (0)

/* An unconnected TCP socket bound to ep-out's 127.0.0.2 with no port yet:
 * one of libgraft's stock. */
static bool is_stocked(int fd)
{
	struct sockaddr_in a, p;
	socklen_t len = sizeof(a), plen = sizeof(p);

	return getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
	       a.sin_family == AF_INET && a.sin_addr.s_addr == htonl(0x7f000002) &&
	       a.sin_port == 0 &&
	       getpeername(fd, (struct sockaddr *)&p, &plen) < 0;
}

/* libgraft's own descriptors: one broker connection per grafting thread
 * and a stock of client sockets; not leaks. */
static bool libgraft_own(int fd)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_SEQPACKET &&
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	    domain == AF_UNIX)
		return true;
	return is_stocked(fd);
}

/* Open descriptors above stderr but those `aside` names (NULL: none), the
 * listing's own aside. */
static int open_fds(bool (*aside)(int fd))
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd > 2 && !(aside && aside(fd)))
			n++;
	}
	closedir(d);
	return n - 1;
}

static int count_fds(void)
{
	return open_fds(libgraft_own);
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A listener on 127.0.0.1 (an unmatched bind: not grafted). */
static int listener(int type, uint16_t *port)
{
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(s, 4096) < 0) ||
	    getsockname(s, (struct sockaddr *)&a, &len) < 0) {
		perror("stress: listener");
		exit(1);
	}
	*port = ntohs(a.sin_port);
	return s;
}

static bool local_is_grafted(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return false;
	return a.sin_family == AF_INET &&
	       a.sin_addr.s_addr == htonl(0x7f000002);
}

static int wait_connected(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&p, 1, 5000) != 1)
		return ETIMEDOUT;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	return err;
}

static int mode_many(int n)
{
	struct rlimit rl;
	uint16_t port;
	int *cl, *sv, ls, i, before, high = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)(2 * n + 64)) {
		fprintf(stderr, "stress: RLIMIT_NOFILE %lu too low for %d\n",
			(unsigned long)rl.rlim_cur, n);
		return 1;
	}
	cl = calloc((size_t)n, sizeof(int));
	sv = calloc((size_t)n, sizeof(int));
	ls = listener(SOCK_STREAM, &port);
	before = count_fds();

	for (i = 0; i < n; i++) {
		struct sockaddr_in a = loopback(port);
		bool nb = i % 2;
		int rc;

		cl[i] = socket(AF_INET,
			       SOCK_STREAM | (nb ? SOCK_NONBLOCK | SOCK_CLOEXEC : 0),
			       0);
		if (cl[i] < 0) {
			FAIL("socket %d: %s", i, strerror(errno));
			return 1;
		}
		if (cl[i] > high)
			high = cl[i];
		rc = connect(cl[i], (struct sockaddr *)&a, sizeof(a));
		if (rc < 0 && !(nb && errno == EINPROGRESS)) {
			FAIL("connect %d: %s", i, strerror(errno));
			return 1;
		}
		if (nb && rc < 0 && wait_connected(cl[i]))
			FAIL("connect %d did not complete", i);
		if (!local_is_grafted(cl[i]))
			FAIL("socket %d (fd %d) is not grafted", i, cl[i]);
		if (nb != !!(fcntl(cl[i], F_GETFL) & O_NONBLOCK))
			FAIL("socket %d lost its O_NONBLOCK state", i);
		if (nb != !!(fcntl(cl[i], F_GETFD) & FD_CLOEXEC))
			FAIL("socket %d lost its FD_CLOEXEC state", i);
		sv[i] = accept(ls, NULL, NULL);
		if (sv[i] < 0) {
			FAIL("accept %d: %s", i, strerror(errno));
			return 1;
		}
	}
	/* All open at once: exchange a byte on each. */
	for (i = 0; i < n; i++) {
		char c = 'x';

		if (write(cl[i], &c, 1) != 1 || read(sv[i], &c, 1) != 1 ||
		    c != 'x')
			FAIL("no data on connection %d", i);
	}
	printf("stress: %d grafted connections open at once, highest fd %d\n",
	       n, high);
	if (high <= 1024)
		FAIL("expected descriptors above 1024, highest was %d", high);
	for (i = 0; i < n; i++) {
		close(cl[i]);
		close(sv[i]);
	}
	if (count_fds() != before)
		FAIL("descriptor leak: %d before, %d after", before,
		     count_fds());
	close(ls);
	free(cl);
	free(sv);
	return failures ? 1 : 0;
}

static atomic_bool stop;
static atomic_long grafts;
static uint16_t tcp_port, udp_port;

static void *acceptor(void *arg)
{
	int ls = *(int *)arg;

	while (!atomic_load(&stop)) {
		struct pollfd p = { .fd = ls, .events = POLLIN };

		if (poll(&p, 1, 100) == 1) {
			int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0)
				close(c);
		}
	}
	return NULL;
}

static void *worker(void *arg)
{
	long id = (long)arg, iter = 0;

	while (!atomic_load(&stop)) {
		struct sockaddr_in t = loopback(tcp_port), u = loopback(udp_port);
		int s, d;

		switch (iter++ % 4) {
		case 0: /* TCP, grafted by connect() */
			s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (s < 0 ||
			    connect(s, (struct sockaddr *)&t, sizeof(t)) < 0)
				FAIL("thread %ld: connect: %s", id,
				     strerror(errno));
			else if (!local_is_grafted(s))
				FAIL("thread %ld: fd %d not grafted", id, s);
			else
				atomic_fetch_add(&grafts, 1);
			close(s);
			break;
		case 1: /* UDP, grafted by sendto(), then dup'ed */
			s = socket(AF_INET, SOCK_DGRAM, 0);
			if (s < 0 || sendto(s, "x", 1, 0, (struct sockaddr *)&u,
					    sizeof(u)) != 1)
				FAIL("thread %ld: sendto: %s", id,
				     strerror(errno));
			else
				atomic_fetch_add(&grafts, 1);
			d = fcntl(s, F_DUPFD_CLOEXEC, 0);
			if (d < 0 || !local_is_grafted(d))
				FAIL("thread %ld: dup of a grafted fd", id);
			close(d);
			close(s);
			break;
		case 2: /* options recorded, then a graft by sendmsg() */
		{
			int one = 1;
			struct iovec iov = { .iov_base = "y", .iov_len = 1 };
			struct msghdr mh = { .msg_name = &u,
					     .msg_namelen = sizeof(u),
					     .msg_iov = &iov,
					     .msg_iovlen = 1 };

			s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
			setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
			if (sendmsg(s, &mh, 0) != 1)
				FAIL("thread %ld: sendmsg: %s", id,
				     strerror(errno));
			else
				atomic_fetch_add(&grafts, 1);
			if (!(fcntl(s, F_GETFL) & O_NONBLOCK))
				FAIL("thread %ld: O_NONBLOCK lost", id);
			close(s);
			break;
		}
		default: /* untracked and unmatched sockets */
			s = socket(AF_UNIX, SOCK_DGRAM, 0);
			d = socket(AF_INET, SOCK_DGRAM, 0);
			dup2(s, d);
			close(s);
			close(d);
			break;
		}
	}
	return NULL;
}

static int mode_threads(int nthreads, int seconds)
{
	pthread_t acc, *th = calloc((size_t)nthreads, sizeof(*th));
	int ls, us, before, forks = 0;
	struct timespec t0, now;
	long i;

	ls = listener(SOCK_STREAM, &tcp_port);
	us = listener(SOCK_DGRAM, &udp_port);
	before = count_fds();
	pthread_create(&acc, NULL, acceptor, &ls);
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		/* fork() while other threads hold the library's lock now and
		 * then: the child must still be able to use sockets. */
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			int s = socket(AF_INET, SOCK_DGRAM, 0);

			close(s);
			_exit(s >= 0 ? 0 : 3);
		}
		if (pid > 0) {
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 0)
				FAIL("child %d failed", pid);
			forks++;
		}
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < seconds);

	atomic_store(&stop, true);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	pthread_join(acc, NULL);
	printf("stress: %d threads, %ld grafts, %d forks in %d s\n", nthreads,
	       atomic_load(&grafts), forks, seconds);
	if (atomic_load(&grafts) < nthreads)
		FAIL("too few grafts");
	if (count_fds() != before)
		FAIL("descriptor leak: %d before, %d after", before,
		     count_fds());
	close(ls);
	close(us);
	free(th);
	return failures ? 1 : 0;
}

/* ---- dup3race ------------------------------------------------------------- */

struct race {
	int fd;	      /* the socket being grafted, then closed */
	int nullfd;   /* what the other thread opened on the same number */
	int delay_ms; /* when to close: half the broker's delay */
	atomic_bool in_connect; /* set around the connect() call */
	bool late;    /* the closer ran after connect() had returned */
};

static void *race_closer(void *arg)
{
	struct race *r = arg;

	usleep((useconds_t)r->delay_ms * 1000);
	/* A loaded machine may wake this thread after the whole round trip:
	 * then there is no graft in flight to race with. */
	r->late = !atomic_load(&r->in_connect);
	close(r->fd);
	r->nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return NULL;
}

static int mode_dup3race(int n, int broker_delay_ms)
{
	struct sockaddr_in t;
	uint16_t port;
	int ls = listener(SOCK_STREAM, &port), same = 0, i;

	t = loopback(port);
	for (i = 0; i < n; i++) {
		struct race r = { .delay_ms = broker_delay_ms / 2 };
		pthread_t th;
		struct stat st;
		int rc, err;

		r.fd = socket(AF_INET, SOCK_STREAM, 0);
		atomic_store(&r.in_connect, true);
		pthread_create(&th, NULL, race_closer, &r);
		rc = connect(r.fd, (struct sockaddr *)&t, sizeof(t));
		err = errno;
		atomic_store(&r.in_connect, false);
		pthread_join(th, NULL);
		if (r.nullfd != r.fd || r.late) { /* no reuse during the graft: no race */
			close(r.nullfd);
			continue;
		}
		if (fstat(r.nullfd, &st) != 0 || !S_ISCHR(st.st_mode))
			FAIL("round %d: the graft landed on fd %d, which another "
			     "thread had reopened as /dev/null", i, r.fd);
		if (rc < 0 && err == ENOTSOCK) {
			/* A loaded machine ran the closer before connect() began:
			 * connect() met /dev/null itself; not a graft in flight. */
			close(r.nullfd);
			continue;
		}
		same++;
		if (rc == 0 || err != EBADF)
			FAIL("round %d: connect() on the closed fd gave %d (%s), "
			     "not EBADF", i, rc, rc ? strerror(err) : "success");
		close(r.nullfd);
	}
	printf("stress: %d rounds, %d with the number reused mid-graft\n", n,
	       same);
	if (same < n / 2)
		FAIL("the race window was not hit (%d of %d)", same, n);
	close(ls);
	return failures ? 1 : 0;
}

/* ---- forkleak ------------------------------------------------------------- */

static pthread_mutex_t fl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fl_cv = PTHREAD_COND_INITIALIZER;
static int fl_state; /* 1: the thread grafted; 2: the main thread forked */

static void graft_once(uint16_t port)
{
	struct sockaddr_in t = loopback(port);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(s, (struct sockaddr *)&t, sizeof(t)) < 0 ||
	    !local_is_grafted(s))
		FAIL("forkleak: graft failed: %s", strerror(errno));
	close(s);
}

static void *fl_thread(void *arg)
{
	graft_once(*(uint16_t *)arg);
	pthread_mutex_lock(&fl_mu);
	fl_state = 1;
	pthread_cond_broadcast(&fl_cv);
	while (fl_state != 2)
		pthread_cond_wait(&fl_cv, &fl_mu);
	pthread_mutex_unlock(&fl_mu);
	return NULL;
}

static int mode_forkleak(void)
{
	int base = open_fds(NULL), ls, held, st; /* inherited ones aside */
	uint16_t port;
	pthread_t th;
	pid_t pid;

	ls = listener(SOCK_STREAM, &port);
	pthread_create(&th, NULL, fl_thread, &port);
	graft_once(port);
	pthread_mutex_lock(&fl_mu);
	while (fl_state != 1)
		pthread_cond_wait(&fl_cv, &fl_mu);
	pthread_mutex_unlock(&fl_mu);
	close(ls);
	/* Only the library's own now: two connections, two stocks. */
	held = open_fds(NULL) - base;
	pid = fork();
	if (pid == 0)
		_exit(open_fds(NULL) - base);
	waitpid(pid, &st, 0);
	pthread_mutex_lock(&fl_mu);
	fl_state = 2;
	pthread_cond_broadcast(&fl_cv);
	pthread_mutex_unlock(&fl_mu);
	pthread_join(th, NULL);
	printf("stress: the parent's threads hold %d descriptors, the child %d\n",
	       held, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	if (held < 4)
		FAIL("expected two broker connections and two stocks, saw %d fds",
		     held);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		FAIL("the child inherited %d of them", WEXITSTATUS(st));
	return failures ? 1 : 0;
}

/* ---- handover ------------------------------------------------------------- */

static bool not_stocked(int fd)
{
	return !is_stocked(fd);
}

/* Stocked sockets held (open_fds() takes one off for its own listing, which
 * not_stocked() already sets aside). */
static int stocked_fds(void)
{
	return open_fds(not_stocked) + 1;
}

static uint16_t ho_port;
static double ho_ms; /* the thread's connect() */

static void *ho_thread(void *arg)
{
	struct sockaddr_in t = loopback(ho_port);
	struct timespec a, b;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (connect(s, (struct sockaddr *)&t, sizeof(t)) < 0 ||
	    !local_is_grafted(s))
		FAIL("handover: connect not grafted: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ho_ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
		(double)(b.tv_nsec - a.tv_nsec) / 1e6;
	close(s);
	return NULL;
}

/* A thread grafts once and exits: its stock is handed on (not closed), a
 * forked child holds none of it, and the next thread's first connect takes
 * from it without waiting for the (slow) broker. */
static int mode_handover(int broker_delay_ms)
{
	int ls = listener(SOCK_STREAM, &ho_port), left, child, st;
	double first;
	pthread_t th;
	pid_t pid;

	pthread_create(&th, NULL, ho_thread, NULL);
	pthread_join(th, NULL);
	first = ho_ms;
	left = stocked_fds();
	pid = fork();
	if (pid == 0)
		_exit(stocked_fds());
	waitpid(pid, &st, 0);
	child = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	pthread_create(&th, NULL, ho_thread, NULL);
	pthread_join(th, NULL);
	printf("stress: the first thread's connect %.1f ms, %d stocked sockets "
	       "left at its exit (a child holds %d), the next thread's connect "
	       "%.1f ms\n", first, left, child, ho_ms);
	if (first < broker_delay_ms)
		FAIL("the first connect did not wait for the broker: is it slowed?");
	if (left < 1)
		FAIL("the exited thread's stock was closed, not handed on");
	if (child != 0)
		FAIL("a forked child holds %d of the handed-on sockets", child);
	if (ho_ms >= broker_delay_ms / 2.0)
		FAIL("the next thread waited for the broker (%.1f ms)", ho_ms);
	close(ls);
	return failures ? 1 : 0;
}

/* ---- ahead ---------------------------------------------------------------- */

static int mode_ahead(int n, int gap_ms, int broker_delay_ms)
{
	uint16_t port;
	int ls = listener(SOCK_STREAM, &port), i, slow = 0;
	double worst = 0, first = 0;

	for (i = 0; i < n; i++) {
		struct sockaddr_in t = loopback(port);
		struct timespec a, b;
		double ms;
		int s = socket(AF_INET, SOCK_STREAM, 0), c;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (connect(s, (struct sockaddr *)&t, sizeof(t)) < 0 ||
		    !local_is_grafted(s))
			FAIL("ahead: connect %d not grafted", i);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
		     (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		if (i == 0)
			first = ms;
		else if (ms > worst)
			worst = ms;
		if (i > 0 && ms >= broker_delay_ms / 2.0)
			slow++;
		c = accept(ls, NULL, NULL);
		close(c);
		close(s);
		usleep((useconds_t)gap_ms * 1000);
	}
	printf("stress: %d connects, the first %.1f ms (waits for the broker), "
	       "the slowest of the rest %.1f ms\n", n, first, worst);
	if (first < broker_delay_ms)
		FAIL("the first connect did not wait for the broker: is it slowed?");
	if (slow)
		FAIL("%d connects after the first waited for the broker", slow);
	close(ls);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *d = getenv("FAKE_BROKER_DELAY_MS");
	int delay = d ? atoi(d) : 0;

	if (argc == 3 && !strcmp(argv[1], "many"))
		return mode_many(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "threads"))
		return mode_threads(atoi(argv[2]), atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "dup3race") && delay > 0)
		return mode_dup3race(atoi(argv[2]), delay);
	if (argc == 2 && !strcmp(argv[1], "forkleak"))
		return mode_forkleak();
	if (argc == 4 && !strcmp(argv[1], "ahead") && delay > 0)
		return mode_ahead(atoi(argv[2]), atoi(argv[3]), delay);
	if (argc == 2 && !strcmp(argv[1], "handover") && delay > 0)
		return mode_handover(delay);
	fprintf(stderr, "usage: stress many N | stress threads T SECONDS | "
		"stress dup3race N | stress forkleak | stress ahead N MS | "
		"stress handover\n"
		"(dup3race, ahead and handover need FAKE_BROKER_DELAY_MS, the broker's)\n");
	return 2;
}
