/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GRAFT_SOCKET_H
#define _GRAFT_SOCKET_H

int graft_socket_init(void);
void graft_socket_exit(void);

#endif /* _GRAFT_SOCKET_H */
