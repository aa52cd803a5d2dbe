/* SPDX-License-Identifier: MIT */
/*
 * config.c — read the environment once (see graft_env.h).
 */
#include <stdlib.h>
#include <string.h>

#include "graft_env.h"
#include "libgraft.h"

struct graft_config graft_cfg;

void graft_config_load(void)
{
	const char *v;

	v = getenv(GRAFT_ENV_VERBOSE);
	graft_cfg.verbose = v && !strcmp(v, "1");

	v = getenv(GRAFT_ENV_NAMES);
	graft_cfg.names_host = v && !strcmp(v, "host");
	if (v && *v && strcmp(v, "host") && strcmp(v, "program"))
		graft_error("unknown %s \"%s\" (program or host); using program",
			    GRAFT_ENV_NAMES, v);

	v = getenv(GRAFT_ENV_SOCKET);
	if (!v || !*v)
		v = GRAFT_DEFAULT_SOCKET;
	if (strlen(v) >= sizeof(graft_cfg.socket_path)) {
		graft_error("%s is longer than a Unix socket path may be; "
			    "using %s", GRAFT_ENV_SOCKET,
			    GRAFT_DEFAULT_SOCKET);
		v = GRAFT_DEFAULT_SOCKET;
	}
	strcpy(graft_cfg.socket_path, v);

	v = getenv(GRAFT_ENV_BACKEND);
	graft_cfg.backend = GRAFT_BACKEND_BROKER;
	if (v && !strcmp(v, "kernel"))
		graft_cfg.backend = GRAFT_BACKEND_KERNEL;
	else if (v && *v && strcmp(v, "broker"))
		graft_error("unknown %s \"%s\" (broker or kernel); using broker",
			    GRAFT_ENV_BACKEND, v);

	if (graft_maps_parse_ingress(&graft_cfg.maps,
				     getenv(GRAFT_ENV_INGRESS)) < 0 ||
	    graft_maps_parse_egress(&graft_cfg.maps,
				    getenv(GRAFT_ENV_EGRESS)) < 0)
		graft_error("out of memory reading the mappings; "
			    "some are ignored");
	/* No mappings of its own (started by a container runtime, not by
	 * graft run): use its namespace's, kept by the broker. */
	if (graft_cfg.backend == GRAFT_BACKEND_BROKER &&
	    !getenv(GRAFT_ENV_INGRESS) && !getenv(GRAFT_ENV_EGRESS))
		graft_nsmaps_load(&graft_cfg.maps);
	if (graft_cfg.verbose) /* it formats addresses first: 0.1 ms cold */
		graft_maps_trace(&graft_cfg.maps);
	graft_trace("backend %s%s%s",
		    graft_cfg.backend == GRAFT_BACKEND_KERNEL ? "kernel"
							      : "broker",
		    graft_cfg.backend == GRAFT_BACKEND_KERNEL ? "" : ", socket ",
		    graft_cfg.backend == GRAFT_BACKEND_KERNEL
			    ? ""
			    : graft_cfg.socket_path);
}
