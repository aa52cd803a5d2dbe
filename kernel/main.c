// SPDX-License-Identifier: GPL-2.0
/*
 * af_graft: sockets in one network namespace backed by real sockets in
 * another.  See uapi/af_graft.h for the user API.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <net/genetlink.h>

#include "endpoint.h"
#include "netlink.h"
#include "socket.h"
#include "socklist.h"

static int __init graft_init(void)
{
	int ret;

	ret = graft_ep_init();
	if (ret)
		goto err_ep;
	ret = graft_genl_init();
	if (ret)
		goto err_genl;
	ret = graft_socklist_init();
	if (ret)
		goto err_socklist;
	ret = graft_socket_init();
	if (ret)
		goto err_socket;

	pr_info("AF_GRAFT (family %d) registered\n", AF_GRAFT);
	return 0;

err_socket:
	graft_socklist_exit();
err_socklist:
	graft_genl_exit();
err_genl:
	graft_ep_exit();
err_ep:
	return ret;
}

static void __exit graft_exit(void)
{
	graft_socket_exit();
	graft_socklist_exit();
	graft_genl_exit();
	graft_ep_exit();
}

module_init(graft_init);
module_exit(graft_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION(AF_GRAFT_VERSION);
MODULE_DESCRIPTION("AF_GRAFT: sockets grafted across network namespaces");
MODULE_ALIAS_NETPROTO(PF_GRAFT);
MODULE_ALIAS_GENL_FAMILY(AF_GRAFT_GENL_NAME);
