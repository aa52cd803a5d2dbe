/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_NETLINK_H
#define _GRAFT_NETLINK_H

int graft_genl_init(void);
void graft_genl_exit(void);

#endif /* _GRAFT_NETLINK_H */
