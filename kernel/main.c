// SPDX-License-Identifier: GPL-2.0
/*
 * af_graft: sockets in one network namespace backed by real sockets in
 * another.  See uapi/af_graft.h for the user API.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <net/genetlink.h>

#include "netlink.h"
#include "pernet.h"
#include "socket.h"
#include "unixgc.h"

/* The module's parts, set up in this order and taken down in reverse. */
static const struct graft_part {
	int (*init)(void);
	void (*exit)(void);
} graft_parts[] = {
	{ graft_pernet_init, graft_pernet_exit },
	{ graft_genl_init, graft_genl_exit },
	{ graft_unixgc_start, graft_unixgc_stop },
	{ graft_socket_init, graft_socket_exit },
};

static void graft_parts_exit(size_t n)
{
	while (n--)
		graft_parts[n].exit();
}

static int __init graft_init(void)
{
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(graft_parts); i++) {
		ret = graft_parts[i].init();
		if (ret) {
			graft_parts_exit(i);
			return ret;
		}
	}
	pr_info("AF_GRAFT (family %d) registered\n", AF_GRAFT);
	return 0;
}

static void __exit graft_exit(void)
{
	graft_parts_exit(ARRAY_SIZE(graft_parts));
}

module_init(graft_init);
module_exit(graft_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION(AF_GRAFT_VERSION);
MODULE_DESCRIPTION("AF_GRAFT: sockets grafted across network namespaces");
MODULE_ALIAS_NETPROTO(PF_GRAFT);
MODULE_ALIAS_GENL_FAMILY(AF_GRAFT_GENL_NAME);
