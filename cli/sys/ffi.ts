/**
 * The one table of libc symbols graft calls through Deno FFI, and the typed
 * error every failing call turns into.
 *
 * Every call runs on the JavaScript thread (the one that may have entered
 * another namespace), and errno is read right after it, on that thread, to
 * throw {@link SysError}.
 *
 * @module
 */

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32" /* errnum */], result: "pointer" },
  socket: {
    parameters: ["i32", /* domain */ "i32", /* type */ "i32" /* protocol */],
    result: "i32",
  },
  socketpair: {
    parameters: ["i32", /* domain */ "i32", /* type */ "i32", /* protocol */ "buffer" /* int[2] */],
    result: "i32",
  },
  bind: { parameters: ["i32", /* fd */ "buffer", /* addr */ "u32" /* addrlen */], result: "i32" },
  connect: {
    parameters: ["i32", /* fd */ "buffer", /* addr */ "u32" /* addrlen */],
    result: "i32",
  },
  listen: { parameters: ["i32", /* fd */ "i32" /* backlog */], result: "i32" },
  accept4: {
    parameters: ["i32", /* fd */ "pointer", /* addr */ "pointer", /* addrlen */ "i32" /* flags */],
    result: "i32",
  },
  close: { parameters: ["i32" /* fd */], result: "i32" },
  sendmsg: {
    parameters: ["i32", /* fd */ "buffer", /* msghdr */ "i32" /* flags */],
    result: "isize",
  },
  recvmsg: {
    parameters: ["i32", /* fd */ "buffer", /* msghdr */ "i32" /* flags */],
    result: "isize",
  },
  send: {
    parameters: ["i32", /* fd */ "buffer", /* buf */ "usize", /* len */ "i32" /* flags */],
    result: "isize",
  },
  recv: {
    parameters: ["i32", /* fd */ "buffer", /* buf */ "usize", /* len */ "i32" /* flags */],
    result: "isize",
  },
  getsockopt: {
    parameters: [
      "i32", /* fd */
      "i32", /* level */
      "i32", /* optname */
      "buffer", /* optval */
      "buffer", /* optlen (socklen_t *) */
    ],
    result: "i32",
  },
  setsockopt: {
    parameters: ["i32", /* fd */ "i32", /* level */ "i32", /* optname */ "buffer", "u32"],
    result: "i32",
  },
  getsockname: {
    parameters: ["i32", /* fd */ "buffer", /* addr */ "buffer" /* addrlen */],
    result: "i32",
  },
  setns: { parameters: ["i32", /* fd */ "i32" /* nstype */], result: "i32" },
  open: { parameters: ["buffer", /* path */ "i32", /* flags */ "u32" /* mode */], result: "i32" },
  fcntl: { parameters: ["i32", /* fd */ "i32", /* cmd */ "i64" /* arg */], result: "i32" },
  fsync: { parameters: ["i32" /* fd */], result: "i32" },
  pipe2: { parameters: ["buffer", /* int[2] */ "i32" /* flags */], result: "i32" },
  write: { parameters: ["i32", /* fd */ "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", /* fd */ "buffer", "usize"], result: "isize" },
  readlink: { parameters: ["buffer", /* path */ "buffer", /* buf */ "usize"], result: "isize" },
  poll: {
    parameters: ["buffer", /* struct pollfd[] */ "u64", /* nfds */ "i32" /* timeout ms */],
    result: "i32",
  },
  getrlimit: { parameters: ["i32", /* resource */ "buffer" /* struct rlimit */], result: "i32" },
  setrlimit: { parameters: ["i32", /* resource */ "buffer" /* struct rlimit */], result: "i32" },
  /** For system calls without a libc wrapper (pidfd_open before glibc 2.36). */
  syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  /** The socket's owner is the thread's filesystem uid at socket(). */
  setfsuid: { parameters: ["u32"], result: "i32" },
  /** close() on another thread: a close that blocks must not stop the broker. */
  close_nb: { name: "close", parameters: ["i32"], result: "i32", nonblocking: true },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The libc symbol table, opened on first use. */
export function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (!lib) lib = Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** Linux constants graft needs (x86_64 and the generic ABI agree on these). */
export const C = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_NETLINK: 16,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_SEQPACKET: 5,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_TYPE: 3,
  SO_BROADCAST: 6,
  SO_SNDBUF: 7,
  SO_SNDBUFFORCE: 32,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_LINGER: 13,
  SO_REUSEPORT: 15,
  SO_PEERCRED: 17,
  SO_RCVTIMEO: 20,
  SO_SNDTIMEO: 21,
  SO_DOMAIN: 39,
  SCM_RIGHTS: 1,
  IPPROTO_IP: 0,
  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
  IPPROTO_IPV6: 41,
  IP_TOS: 1,
  IP_TTL: 2,
  IP_BIND_ADDRESS_NO_PORT: 24,
  IPV6_V6ONLY: 26,
  IPV6_TCLASS: 67,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,
  MSG_CMSG_CLOEXEC: 0x40000000,
  MSG_TRUNC: 0x20,
  MSG_CTRUNC: 0x8,
  O_RDONLY: 0,
  O_DIRECTORY: 0o200000,
  F_GETFL: 3,
  F_SETFL: 4,
  F_SETFD: 2,
  SO_ACCEPTCONN: 30,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  CLONE_NEWNET: 0x40000000,
  POLLIN: 0x1,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
} as const;

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  17: "EEXIST",
  20: "ENOTDIR",
  22: "EINVAL",
  24: "EMFILE",
  32: "EPIPE",
  40: "ELOOP",
  61: "ENODATA",
  71: "EPROTO",
  90: "EMSGSIZE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  104: "ECONNRESET",
  107: "ENOTCONN",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
};

/** Numeric errno values used by name in graft's code. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  ENOTDIR: 20,
  EINVAL: 22,
  ELOOP: 40,
  EPROTO: 71,
  EMSGSIZE: 90,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ECONNREFUSED: 111,
} as const;

/** The symbolic name of an errno value, such as `"ENOENT"`. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** The C library's text for an errno value. */
export function strerror(errno: number): string {
  const p = libc().strerror(errno);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${errno}`;
}

/** A failed system call: carries the errno, its name and the call. */
export class SysError extends Error {
  /** The positive errno value. */
  readonly errno: number;
  /** The errno's symbolic name, e.g. `"EADDRINUSE"`. */
  readonly code: string;
  /** The call that failed, e.g. `"bind"`. */
  readonly syscall: string;

  /** A failure of `syscall` with `errno`; `context` names what was being done. */
  constructor(syscall: string, errno: number, context?: string) {
    super(`${context ? context + ": " : ""}${syscall}: ${strerror(errno)}`);
    this.name = "SysError";
    this.errno = errno;
    this.code = errnoName(errno);
    this.syscall = syscall;
  }
}

let errnoView: Deno.UnsafePointerView | undefined;

/** The calling thread's errno. Read it right after the failing call. */
export function errno(): number {
  if (!errnoView) {
    const p = libc().__errno_location();
    if (!p) throw new Error("__errno_location returned NULL");
    errnoView = new Deno.UnsafePointerView(p);
  }
  return errnoView.getInt32();
}

/** Throw a SysError for a call that returned a negative value. */
export function check<T extends number | bigint>(syscall: string, ret: T, context?: string): T {
  if (ret < 0) throw new SysError(syscall, errno(), context);
  return ret;
}

/**
 * The result of a call that may fail harmlessly: true on success, false when
 * errno is one of `benign` (EAGAIN on a non-blocking socket, ...); any other
 * failure throws a SysError.
 */
export function succeeded(syscall: string, ret: number | bigint, ...benign: number[]): boolean {
  if (ret >= 0) return true;
  const e = errno();
  if (benign.includes(e)) return false;
  throw new SysError(syscall, e);
}

/** A NUL-terminated copy of a string, for `const char *` parameters. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** Open a file and return its descriptor (always O_CLOEXEC). */
export function openFd(path: string, flags: number = C.O_RDONLY): number {
  return check("open", libc().open(cstr(path), flags | C.O_CLOEXEC, 0), path);
}

/** Close a descriptor, ignoring errors (for cleanup paths). */
export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}
