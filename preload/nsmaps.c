/* SPDX-License-Identifier: MIT */
/*
 * nsmaps.c — a namespace's default mappings (graft map, the OCI hook, the
 * CNI plugin) for a program started without GRAFT_INGRESS_CONVERT and
 * GRAFT_EGRESS_CONVERT: a container's processes are started by a runtime,
 * not by `graft run`. One GRAFT_OP_MAP_LIST request at start-up; the broker
 * answers for the caller's own namespace (from its socket, never the
 * request) with the mappings in the environment variables' syntax.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "libgraft.h"

#define NSMAPS_REPLY_MAX 16384

/*
 * Copy the JSON string value of "key" in `json` into out (unescaping \" and
 * \\; other escapes never occur in mapping text). Returns 0, or -1 when the
 * key is missing or the value does not fit.
 */
static int json_string(const char *json, const char *key, char *out, size_t size)
{
	char pat[32];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(json, pat);
	if (!p)
		return -1;
	for (p += strlen(pat); *p && *p != '"'; p++) {
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		else if (*p == '\\')
			return -1;
		if (n + 1 >= size)
			return -1;
		out[n++] = *p;
	}
	if (*p != '"')
		return -1;
	out[n] = '\0';
	return 0;
}

static int nsmaps_connect(void)
{
	struct timeval tv = { .tv_sec = 5 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = GRAFT_REAL(socket)(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	GRAFT_REAL(setsockopt)(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	GRAFT_REAL(setsockopt)(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memcpy(sun.sun_path, graft_cfg.socket_path,
	       strnlen(graft_cfg.socket_path, sizeof(sun.sun_path) - 1));
	if (GRAFT_REAL(connect)(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		GRAFT_REAL(close)(s);
		return -1;
	}
	return s;
}

/* Ask the broker; the reply's body (NUL-terminated JSON) goes to buf. */
static int nsmaps_request(char *buf, size_t size)
{
	static const char body[] = "{}";
	struct {
		struct graft_hdr hdr;
		char body[sizeof(body) - 1];
	} __attribute__((packed)) rq = {
		.hdr = { .magic = GRAFT_PROTO_MAGIC,
			 .version = GRAFT_PROTO_VERSION,
			 .op = GRAFT_OP_MAP_LIST,
			 .len = sizeof(rq),
			 .seq = 1 },
	};
	struct graft_hdr *hp = (void *)buf;
	ssize_t n;
	int s = nsmaps_connect();

	if (s < 0)
		return -1;
	memcpy(rq.body, body, sizeof(rq.body));
	n = send(s, &rq, sizeof(rq), MSG_NOSIGNAL);
	if (n == (ssize_t)sizeof(rq))
		n = recv(s, buf, size - 1, 0);
	GRAFT_REAL(close)(s);
	if (n < (ssize_t)sizeof(*hp) || hp->magic != GRAFT_PROTO_MAGIC ||
	    hp->op != GRAFT_OP_MAP_LIST || hp->seq != 1)
		return -1;
	buf[n] = '\0';
	memmove(buf, buf + sizeof(*hp), (size_t)n - sizeof(*hp) + 1);
	return 0;
}

void graft_nsmaps_load(struct graft_maps *maps)
{
	static char buf[NSMAPS_REPLY_MAX];
	static char ingress[NSMAPS_REPLY_MAX / 2], egress[NSMAPS_REPLY_MAX / 2];
	int saved = errno;

	if (nsmaps_request(buf, sizeof(buf)) < 0 || !strstr(buf, "\"ok\":true") ||
	    json_string(buf, "ingress_env", ingress, sizeof(ingress)) < 0 ||
	    json_string(buf, "egress_env", egress, sizeof(egress)) < 0) {
		graft_trace("no namespace mappings from the broker at %s",
			    graft_cfg.socket_path);
		errno = saved;
		return;
	}
	if (graft_maps_parse_ingress(maps, ingress) < 0 ||
	    graft_maps_parse_egress(maps, egress) < 0)
		graft_error("out of memory reading the namespace's mappings; "
			    "some are ignored");
	graft_trace("namespace mappings: ingress \"%s\", egress \"%s\"", ingress,
		    egress);
	errno = saved;
}
