/* SPDX-License-Identifier: MIT */
/*
 * The one table of hooked calls. Each row yields three things: a slot of
 * the next object's definition (GRAFT_REAL_<name>, looked up on first use
 * by real.c), its name in real.c's list, and the exported wrapper in
 * hooks.c that calls the internal implementation.
 *
 *   HOOK(name, required, ret, params, call)
 *     name      the libc function
 *     required  libgraft stops the process when it cannot be found
 *     ret       its return type
 *     params    the parameter list as glibc declares it
 *     call      what the exported wrapper returns
 *   HOOK_VA(name, required, ret, params, call)
 *     the same for `ret name(int fd, int cmd, ...)`: the wrapper reads one
 *     pointer-sized argument into `arg`.
 */
#ifndef GRAFT_HOOK_TABLE_H
#define GRAFT_HOOK_TABLE_H

#define GRAFT_HOOKS(HOOK, HOOK_VA)                                            \
	/* create and options: hook_socket.c */                               \
	HOOK(socket, true, int, (int domain, int type, int protocol),         \
	     graft_socket_impl(domain, type, protocol))                       \
	HOOK(setsockopt, true, int,                                           \
	     (int fd, int level, int name, const void *val, socklen_t len),   \
	     graft_setsockopt_impl(fd, level, name, val, len))                \
	HOOK(getsockopt, true, int,                                           \
	     (int fd, int level, int name, void *__restrict val,              \
	      socklen_t *__restrict len),                                     \
	     graft_getsockopt_impl(fd, level, name, val, len))                \
	/* bind and listen: hook_bind.c */                                    \
	HOOK(bind, true, int,                                                 \
	     (int fd, __CONST_SOCKADDR_ARG addr, socklen_t len),              \
	     graft_bind_impl(fd, addr.__sockaddr__, len))                     \
	HOOK(listen, true, int, (int fd, int backlog),                        \
	     graft_listen_impl(fd, backlog))                                  \
	/* egress: hook_egress.c */                                           \
	HOOK(connect, true, int,                                              \
	     (int fd, __CONST_SOCKADDR_ARG addr, socklen_t len),              \
	     graft_connect_impl(fd, addr.__sockaddr__, len))                  \
	HOOK(sendto, true, ssize_t,                                           \
	     (int fd, const void *buf, size_t n, int flags,                   \
	      __CONST_SOCKADDR_ARG addr, socklen_t len),                      \
	     graft_sendto_impl(fd, buf, n, flags, addr.__sockaddr__, len))    \
	HOOK(sendmsg, true, ssize_t,                                          \
	     (int fd, const struct msghdr *msg, int flags),                   \
	     graft_sendmsg_impl(fd, msg, flags))                              \
	HOOK(sendmmsg, false, int,                                            \
	     (int fd, struct mmsghdr *vec, unsigned int vlen, int flags),     \
	     graft_sendmmsg_impl(fd, vec, vlen, flags))                       \
	/* calls that translate a foreign socket's addresses: hook_foreign.c */\
	HOOK(recvfrom, true, ssize_t,                                         \
	     (int fd, void *__restrict buf, size_t n, int flags,              \
	      __SOCKADDR_ARG addr, socklen_t *__restrict len),                \
	     graft_recvfrom_impl(fd, buf, n, flags, addr.__sockaddr__, len))  \
	HOOK(recvmsg, true, ssize_t, (int fd, struct msghdr *msg, int flags), \
	     graft_recvmsg_impl(fd, msg, flags))                              \
	HOOK(accept, true, int,                                               \
	     (int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len),        \
	     graft_accept_impl(fd, addr.__sockaddr__, len, 0, false))         \
	HOOK(accept4, true, int,                                              \
	     (int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len,         \
	      int flags),                                                     \
	     graft_accept_impl(fd, addr.__sockaddr__, len, flags, true))      \
	HOOK(getsockname, true, int,                                          \
	     (int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len),        \
	     graft_name_impl(fd, addr.__sockaddr__, len, GRAFT_NAME_SOCK))    \
	HOOK(getpeername, true, int,                                          \
	     (int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len),        \
	     graft_name_impl(fd, addr.__sockaddr__, len, GRAFT_NAME_PEER))    \
	/* descriptors: hook_fd.c */                                          \
	HOOK(close, true, int, (int fd), graft_close_impl(fd))                \
	HOOK(close_range, false, int,                                         \
	     (unsigned int first, unsigned int last, int flags),              \
	     graft_close_range_impl(first, last, flags))                      \
	HOOK(dup, true, int, (int fd), graft_dup_impl(fd))                    \
	HOOK(dup2, true, int, (int fd, int fd2), graft_dup2_impl(fd, fd2))    \
	HOOK(dup3, true, int, (int fd, int fd2, int flags),                   \
	     graft_dup3_impl(fd, fd2, flags))                                 \
	HOOK_VA(fcntl, true, int, (int fd, int cmd, ...),                     \
		graft_fcntl_impl(false, fd, cmd, arg))                        \
	HOOK_VA(fcntl64, false, int, (int fd, int cmd, ...),                  \
		graft_fcntl_impl(true, fd, cmd, arg))                         \
	/* signal handlers: hook_signal.c */                                  \
	HOOK(sigaction, true, int,                                            \
	     (int sig, const struct sigaction *__restrict act,                \
	      struct sigaction *__restrict old),                              \
	     graft_sigaction_impl(sig, act, old))                             \
	HOOK(signal, true, __sighandler_t, (int sig, __sighandler_t h),       \
	     graft_signal_impl(GRAFT_REAL_signal, sig, h))                    \
	HOOK(bsd_signal, false, __sighandler_t, (int sig, __sighandler_t h),  \
	     graft_signal_impl(GRAFT_REAL_bsd_signal, sig, h))                \
	HOOK(ssignal, false, __sighandler_t, (int sig, __sighandler_t h),     \
	     graft_signal_impl(GRAFT_REAL_ssignal, sig, h))                   \
	HOOK(sysv_signal, false, __sighandler_t, (int sig, __sighandler_t h), \
	     graft_signal_impl(GRAFT_REAL_sysv_signal, sig, h))               \
	HOOK(__sysv_signal, false, __sighandler_t,                            \
	     (int sig, __sighandler_t h),                                     \
	     graft_signal_impl(GRAFT_REAL___sysv_signal, sig, h))             \
	HOOK(sigset, false, __sighandler_t, (int sig, __sighandler_t h),      \
	     graft_signal_impl(GRAFT_REAL_sigset, sig, h))

#endif /* GRAFT_HOOK_TABLE_H */
