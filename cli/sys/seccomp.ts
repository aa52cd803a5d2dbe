/**
 * Seccomp user notification through FFI: receiving a trapped system call,
 * checking it is still pending, answering it, installing a descriptor in the
 * trapped process (SECCOMP_IOCTL_NOTIF_ADDFD), and the process-level calls a
 * supervisor needs around them (pidfd_open, pidfd_getfd, process_vm_readv,
 * a socket's network namespace).
 *
 * Struct layouts are x86_64's (the filter graft-exec installs traps x86_64
 * system calls only).
 *
 * @module
 */

import { C, check, Errno, errno, libc, openFd, succeeded } from "./ffi.ts";
import { getIntOpt } from "./unix.ts";

const SYMBOLS = {
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
  process_vm_readv: {
    parameters: ["i32", "buffer", "u64", "buffer", "u64", "u64"],
    result: "isize",
  },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  pread: { name: "pread64", parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { name: "pwrite64", parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  /** accept4() on another thread: a blocking accept must not stop the broker. */
  accept4_nb: {
    name: "accept4",
    parameters: ["i32", "pointer", "pointer", "i32"],
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function sys(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (!lib) lib = Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** ioctl numbers and flags of linux/seccomp.h. */
export const SECCOMP = {
  /** _IOWR('!', 0, struct seccomp_notif) */
  IOCTL_NOTIF_RECV: 0xc0502100n,
  /** _IOWR('!', 1, struct seccomp_notif_resp) */
  IOCTL_NOTIF_SEND: 0xc0182101n,
  /** _IOW('!', 2, __u64) */
  IOCTL_NOTIF_ID_VALID: 0x40082102n,
  /** _IOW('!', 3, struct seccomp_notif_addfd) */
  IOCTL_NOTIF_ADDFD: 0x40182103n,
  USER_NOTIF_FLAG_CONTINUE: 1,
  ADDFD_FLAG_SETFD: 1,
  ADDFD_FLAG_SEND: 2,
  AUDIT_ARCH_X86_64: 0xc000003e,
} as const;

/** x86_64 system call numbers the filter traps. */
export const NR = {
  connect: 42,
  accept: 43,
  sendto: 44,
  sendmsg: 46,
  bind: 49,
  getsockname: 51,
  getpeername: 52,
  accept4: 288,
  sendmmsg: 307,
} as const;

/** x86_64 numbers of the pidfd calls the supervisor makes. */
const SYS = { pidfd_open: 434n, pidfd_getfd: 438n } as const;

/** A trapped system call. */
export interface Notification {
  /** The notification's cookie: every later ioctl names it. */
  id: bigint;
  /** The calling thread (in the supervisor's PID namespace). */
  pid: number;
  /** System call number. */
  nr: number;
  /** AUDIT_ARCH_* of the call. */
  arch: number;
  /** The six arguments. */
  args: bigint[];
}

const recvBuf = new Uint8Array(80);

/**
 * Receive one pending notification, or undefined when there is none any
 * more (the caller was interrupted or died between poll() and here).
 */
export function notifRecv(listener: number): Notification | undefined {
  recvBuf.fill(0); // the kernel insists on a zeroed struct
  const r = sys().ioctl(listener, SECCOMP.IOCTL_NOTIF_RECV, recvBuf);
  if (!succeeded("ioctl(SECCOMP_IOCTL_NOTIF_RECV)", r, Errno.ENOENT, Errno.EINTR, Errno.EAGAIN)) {
    return undefined;
  }
  const v = new DataView(recvBuf.buffer);
  const args: bigint[] = [];
  for (let i = 0; i < 6; i++) args.push(v.getBigUint64(32 + 8 * i, true));
  return {
    id: v.getBigUint64(0, true),
    pid: v.getUint32(8, true),
    nr: v.getInt32(16, true),
    arch: v.getUint32(20, true),
    args,
  };
}

/** Whether the notification is still pending: its thread still waits in the same call. */
export function notifIdValid(listener: number, id: bigint): boolean {
  const b = new BigUint64Array([id]);
  return sys().ioctl(listener, SECCOMP.IOCTL_NOTIF_ID_VALID, new Uint8Array(b.buffer)) === 0;
}

/**
 * Answer a notification: a return value, a negative errno, or `continue`
 * (let the kernel run the call as the program made it). Returns false when
 * the caller is gone.
 */
export function notifRespond(
  listener: number,
  id: bigint,
  answer: { val?: number; error?: number; continue?: boolean },
): boolean {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, id, true);
  v.setBigInt64(8, BigInt(answer.val ?? 0), true);
  v.setInt32(16, answer.error ? -Math.abs(answer.error) : 0, true);
  v.setUint32(20, answer.continue ? SECCOMP.USER_NOTIF_FLAG_CONTINUE : 0, true);
  return succeeded(
    "ioctl(SECCOMP_IOCTL_NOTIF_SEND)",
    sys().ioctl(listener, SECCOMP.IOCTL_NOTIF_SEND, b),
    Errno.ENOENT,
  );
}

/**
 * Put `srcFd` (ours) in the trapped process: on descriptor number `targetFd`,
 * replacing what was there (like dup2), or, with `targetFd` -1, on its lowest
 * free number while answering the call with that number (ADDFD_FLAG_SEND:
 * the descriptor and the answer arrive together or not at all). Returns the
 * number; throws a SysError (ENOENT when the caller is gone).
 */
export function notifAddFd(
  listener: number,
  id: bigint,
  srcFd: number,
  targetFd: number,
  cloexec: boolean,
): number {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, id, true);
  v.setUint32(8, targetFd < 0 ? SECCOMP.ADDFD_FLAG_SEND : SECCOMP.ADDFD_FLAG_SETFD, true);
  v.setUint32(12, srcFd, true);
  v.setUint32(16, Math.max(targetFd, 0), true);
  v.setUint32(20, cloexec ? C.O_CLOEXEC : 0, true);
  return check(
    "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)",
    sys().ioctl(listener, SECCOMP.IOCTL_NOTIF_ADDFD, b),
  );
}

function ptrOf(b: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b as Uint8Array<ArrayBuffer>)));
}

/**
 * Read `len` bytes at `addr` in process `pid`, or undefined when they cannot
 * be read (bad pointer, process gone). The caller re-checks the notification
 * afterwards: the PID may have been reused.
 */
export function readMemory(pid: number, addr: bigint, len: number): Uint8Array | undefined {
  if (len <= 0 || addr === 0n) return undefined;
  const out = new Uint8Array(len);
  const local = new BigUint64Array([ptrOf(out), BigInt(len)]);
  const remote = new BigUint64Array([addr, BigInt(len)]);
  const n = Number(
    sys().process_vm_readv(
      pid,
      new Uint8Array(local.buffer),
      1n,
      new Uint8Array(remote.buffer),
      1n,
      0n,
    ),
  );
  void out;
  return n === len ? out : undefined;
}

/**
 * The memory of process `pid`, opened for reading and writing (close it when
 * done). Open it before re-checking the notification: the descriptor holds
 * the memory of the process that was there when it was opened, so a
 * still-pending notification proves every later write lands in the caller.
 */
export function openMemory(pid: number): number | undefined {
  try {
    return openFd(`/proc/${pid}/mem`, O_RDWR);
  } catch {
    return undefined;
  }
}

/** Read `len` bytes at `addr` of a memory descriptor; undefined when unreadable. */
export function memRead(mem: number, addr: bigint, len: number): Uint8Array | undefined {
  const out = new Uint8Array(len);
  return Number(sys().pread(mem, out, BigInt(len), addr)) === len ? out : undefined;
}

/** Write `bytes` at `addr` of a memory descriptor; false when it cannot. */
export function memWrite(mem: number, addr: bigint, bytes: Uint8Array): boolean {
  if (bytes.length === 0) return true;
  return Number(sys().pwrite(mem, bytes, BigInt(bytes.length), addr)) === bytes.length;
}

/**
 * accept4() without waiting: the new connection, or the errno (EAGAIN when
 * none is queued). Only for a socket whose file is non-blocking.
 */
export function acceptNow(fd: number, flags: number): number | { errno: number } {
  const r = sys().accept4(fd, null, null, flags | C.SOCK_CLOEXEC);
  return r >= 0 ? r : { errno: errno() };
}

/**
 * accept4() on another thread, for a socket whose file blocks: the new
 * connection, or -1 (the errno stays on that thread).
 */
export function acceptLater(fd: number, flags: number): Promise<number> {
  return sys().accept4_nb(fd, null, null, flags | C.SOCK_CLOEXEC);
}

/** shutdown(fd, SHUT_RDWR): wakes a thread blocked in accept() on it. */
export function shutdownSocket(fd: number): void {
  sys().shutdown(fd, 2);
}

const O_RDWR = 2;
const PIDFD_THREAD = 0o200; // O_EXCL: a pidfd for a thread (Linux 6.9)

/**
 * A pidfd for the thread `tid` (close it when done): notifications name the
 * calling thread, which is often not its process's leader. Before Linux 6.9
 * the process (its Tgid) is opened instead.
 */
export function pidfdOpen(tid: number): number {
  let r = Number(sys().syscall(SYS.pidfd_open, BigInt(tid), BigInt(PIDFD_THREAD), 0n, 0n, 0n, 0n));
  if (r < 0 && errno() === Errno.EINVAL) {
    const status = Deno.readTextFileSync(`/proc/${tid}/status`);
    const tgid = Number(/^Tgid:\s*(\d+)/m.exec(status)?.[1] ?? tid);
    r = Number(sys().syscall(SYS.pidfd_open, BigInt(tgid), 0n, 0n, 0n, 0n, 0n));
  }
  return check("pidfd_open", r);
}

/** A copy of descriptor `fd` of the process behind `pidfd` (close-on-exec in ours). */
export function pidfdGetfd(pidfd: number, fd: number): number {
  const r = Number(sys().syscall(SYS.pidfd_getfd, BigInt(pidfd), BigInt(fd), 0n, 0n, 0n, 0n));
  return check("pidfd_getfd", r);
}

const SO_PROTOCOL = 38;

/** Domain, type and protocol of a socket. */
export function socketKind(fd: number): { domain: number; type: number; protocol: number } {
  return {
    domain: getIntOpt(fd, C.SOL_SOCKET, C.SO_DOMAIN),
    type: getIntOpt(fd, C.SOL_SOCKET, C.SO_TYPE),
    protocol: getIntOpt(fd, C.SOL_SOCKET, SO_PROTOCOL),
  };
}

/** The local (or, with `peer`, remote) address of a socket; undefined when it has none. */
export function sockName(fd: number, peer = false): Uint8Array | undefined {
  const addr = new Uint8Array(128);
  const len = new Uint32Array([128]);
  const lenb = new Uint8Array(len.buffer);
  const r = peer ? sys().getpeername(fd, addr, lenb) : libc().getsockname(fd, addr, lenb);
  return r < 0 ? undefined : addr.slice(0, Math.min(len[0], 128));
}

/** Whether the open file behind `fd` is non-blocking. */
export function isNonblocking(fd: number): boolean {
  return (check("fcntl", libc().fcntl(fd, C.F_GETFL, 0n)) & C.O_NONBLOCK) !== 0;
}

/** Make the open file behind `fd` non-blocking. */
export function setNonblocking(fd: number): void {
  const fl = check("fcntl", libc().fcntl(fd, C.F_GETFL, 0n));
  check("fcntl", libc().fcntl(fd, C.F_SETFL, BigInt(fl | C.O_NONBLOCK)));
}

/** Whether a file carries file capabilities (a `security.capability` attribute). */
export function hasFileCapabilities(path: string): boolean {
  const enc = (t: string) => new TextEncoder().encode(t + "\0");
  const buf = new Uint8Array(64);
  return Number(sys().getxattr(enc(path), enc("security.capability"), buf, 64n)) > 0;
}
