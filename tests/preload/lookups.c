/* SPDX-License-Identifier: MIT */
/*
 * lookups MODE PORT — one HTTP/1.0 GET of /hello.txt from 127.0.0.1:PORT,
 * printing the body, for run.sh to count which real functions libgraft.so
 * looked up on the way (LD_DEBUG=bindings):
 *
 *   lookups once PORT      connects once, nothing else (a health check)
 *   lookups handler PORT   installs a SIGUSR1 handler first
 *   lookups fork PORT      forks first (the child exits at once)
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_usr1(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	static const char get[] = "GET /hello.txt HTTP/1.0\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	char buf[4096], *body;
	size_t got = 0;
	ssize_t n;
	int s;

	if (argc != 3) {
		fprintf(stderr, "usage: lookups once|handler|fork PORT\n");
		return 2;
	}
	if (!strcmp(argv[1], "handler")) {
		struct sigaction sa = { .sa_handler = on_usr1 };

		sigaction(SIGUSR1, &sa, NULL);
	} else if (!strcmp(argv[1], "fork")) {
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(s, get, sizeof(get) - 1) != (ssize_t)sizeof(get) - 1) {
		perror("lookups");
		return 1;
	}
	while (got < sizeof(buf) - 1 &&
	       (n = read(s, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	body = strstr(buf, "\r\n\r\n");
	printf("%s", body ? body + 4 : "");
	close(s);
	return 0;
}
