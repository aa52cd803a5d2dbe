/**
 * Unix sockets through FFI: SOCK_SEQPACKET listeners and clients, packets
 * carrying file descriptors (SCM_RIGHTS), and the peer's credentials
 * (SO_PEERCRED). Deno's own Unix sockets can do neither.
 *
 * @module
 */

import { sockaddrUn } from "./sockaddr.ts";
import { C, check, closeFd, Errno, libc, succeeded, SysError } from "./ffi.ts";

/** The credentials of the process at the other end of a Unix socket. */
export interface PeerCred {
  /** Process id (in the broker's PID namespace). */
  pid: number;
  /** Effective user id. */
  uid: number;
  /** Effective group id. */
  gid: number;
}

/** A received packet: its bytes and the descriptors that rode along. */
export interface Packet {
  /** The packet's payload. */
  data: Uint8Array;
  /** Descriptors received with SCM_RIGHTS; the receiver owns them. */
  fds: number[];
  /** True when the packet or its control data was cut short. */
  truncated: boolean;
}

const MAX_FDS = 32;
const CMSG_HDR = 16; // cmsg_len (size_t), cmsg_level, cmsg_type
const CMSG_SPACE_FDS = CMSG_HDR + MAX_FDS * 4;

function ptr(b: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b as Uint8Array<ArrayBuffer>)));
}

/** Build a `struct msghdr` (x86_64 layout) around one iovec and control data. */
function msghdr(
  iov: Uint8Array,
  control: Uint8Array | undefined,
  controlLen: number,
): { hdr: Uint8Array<ArrayBuffer>; keep: unknown[] } {
  const iovec = new Uint8Array(16);
  const iv = new DataView(iovec.buffer);
  iv.setBigUint64(0, iov.length ? ptr(iov) : 0n, true);
  iv.setBigUint64(8, BigInt(iov.length), true);
  const hdr = new Uint8Array(56);
  const h = new DataView(hdr.buffer);
  h.setBigUint64(0, 0n, true); // msg_name
  h.setUint32(8, 0, true); // msg_namelen
  h.setBigUint64(16, ptr(iovec), true); // msg_iov
  h.setBigUint64(24, 1n, true); // msg_iovlen
  h.setBigUint64(32, control && controlLen ? ptr(control) : 0n, true);
  h.setBigUint64(40, BigInt(control ? controlLen : 0), true);
  h.setInt32(48, 0, true); // msg_flags
  return { hdr, keep: [iovec, iov, control] };
}

/**
 * Send one packet, with descriptors attached when `fds` is not empty.
 * Returns false when the socket would block (non-blocking sockets only).
 */
export function sendPacket(fd: number, data: Uint8Array, fds: number[] = [], flags = 0): boolean {
  if (fds.length > MAX_FDS) throw new RangeError("too many descriptors in one packet");
  let control: Uint8Array | undefined;
  let controlLen = 0;
  if (fds.length) {
    controlLen = CMSG_HDR + fds.length * 4;
    control = new Uint8Array((controlLen + 7) & ~7);
    const v = new DataView(control.buffer);
    v.setBigUint64(0, BigInt(controlLen), true);
    v.setInt32(8, C.SOL_SOCKET, true);
    v.setInt32(12, C.SCM_RIGHTS, true);
    fds.forEach((f, i) => v.setInt32(CMSG_HDR + 4 * i, f, true));
    controlLen = control.length;
  }
  const { hdr, keep } = msghdr(data, control, controlLen);
  const n = libc().sendmsg(fd, hdr, flags | C.MSG_NOSIGNAL);
  void keep;
  return succeeded("sendmsg", n, Errno.EAGAIN);
}

/**
 * Receive one packet of at most `max` bytes. Returns null on end of stream
 * and undefined when a non-blocking socket has nothing to read.
 */
export function recvPacket(
  fd: number,
  max: number,
  flags = 0,
  scratch?: Uint8Array,
): Packet | null | undefined {
  // A long-lived server passes one scratch buffer instead of allocating per packet.
  const buf = scratch && scratch.length >= max ? scratch.subarray(0, max) : new Uint8Array(max);
  const control = new Uint8Array(CMSG_SPACE_FDS);
  const { hdr, keep } = msghdr(buf, control, control.length);
  const n = Number(libc().recvmsg(fd, hdr, flags | C.MSG_CMSG_CLOEXEC));
  void keep;
  if (!succeeded("recvmsg", n, Errno.EAGAIN)) return undefined;
  const h = new DataView(hdr.buffer);
  const msgFlags = h.getInt32(48, true);
  const controlLen = Number(h.getBigUint64(40, true));
  const fds: number[] = [];
  // Walk the control messages and collect every descriptor, so none leaks.
  let off = 0;
  const cv = new DataView(control.buffer);
  while (off + CMSG_HDR <= controlLen) {
    const len = Number(cv.getBigUint64(off, true));
    if (len < CMSG_HDR || off + len > controlLen) break;
    if (
      cv.getInt32(off + 8, true) === C.SOL_SOCKET && cv.getInt32(off + 12, true) === C.SCM_RIGHTS
    ) {
      for (let p = off + CMSG_HDR; p + 4 <= off + len; p += 4) fds.push(cv.getInt32(p, true));
    }
    off += (len + 7) & ~7;
  }
  if (n === 0 && fds.length === 0 && !(msgFlags & C.MSG_TRUNC)) return null;
  return {
    data: buf.slice(0, n),
    fds,
    truncated: (msgFlags & (C.MSG_TRUNC | C.MSG_CTRUNC)) !== 0,
  };
}

/**
 * getsockopt into `buf`; returns the length the kernel wrote. A failure
 * throws a SysError (its errno says why); `context` names the option in it.
 */
export function getOpt(
  fd: number,
  level: number,
  name: number,
  buf: Uint8Array,
  context?: string,
): number {
  const len = new Uint32Array([buf.length]);
  check("getsockopt", libc().getsockopt(fd, level, name, buf, new Uint8Array(len.buffer)), context);
  return len[0];
}

/** An integer socket option. */
export function getIntOpt(fd: number, level: number, name: number): number {
  const b = new Int32Array(1);
  getOpt(fd, level, name, new Uint8Array(b.buffer));
  return b[0];
}

/** The credentials of the peer of a connected Unix socket. */
export function peerCred(fd: number): PeerCred {
  const b = new Uint8Array(12);
  getOpt(fd, C.SOL_SOCKET, C.SO_PEERCRED, b, "SO_PEERCRED");
  const v = new DataView(b.buffer);
  return { pid: v.getInt32(0, true), uid: v.getUint32(4, true), gid: v.getUint32(8, true) };
}

/** Set an integer socket option. */
export function setIntOpt(fd: number, level: number, name: number, value: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  check("setsockopt", libc().setsockopt(fd, level, name, b, 4));
}

/** Set SO_RCVTIMEO and SO_SNDTIMEO so a blocking call gives up after `ms`. */
export function setTimeouts(fd: number, ms: number): void {
  const tv = new Uint8Array(16);
  const v = new DataView(tv.buffer);
  v.setBigInt64(0, BigInt(Math.floor(ms / 1000)), true);
  v.setBigInt64(8, BigInt((ms % 1000) * 1000), true);
  check("setsockopt", libc().setsockopt(fd, C.SOL_SOCKET, C.SO_RCVTIMEO, tv, 16));
  check("setsockopt", libc().setsockopt(fd, C.SOL_SOCKET, C.SO_SNDTIMEO, tv, 16));
}

/** Connect a blocking SOCK_SEQPACKET socket to `path`. */
export function seqpacketConnect(path: string): number {
  const fd = check("socket", libc().socket(C.AF_UNIX, C.SOCK_SEQPACKET | C.SOCK_CLOEXEC, 0));
  try {
    const sa = sockaddrUn(path);
    check("connect", libc().connect(fd, sa, sa.length), path);
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/**
 * Listen on `path` with a non-blocking SOCK_SEQPACKET socket. A stale socket
 * file (nobody accepting) is replaced; a live one is an EADDRINUSE error.
 */
export function seqpacketListen(path: string, mode = 0o666): number {
  try {
    const st = Deno.lstatSync(path);
    if (!st.isSocket) {
      throw new SysError("bind", Errno.EEXIST, `${path} exists and is not a socket`);
    }
    let live = false;
    try {
      closeFd(seqpacketConnect(path));
      live = true;
    } catch { /* nobody listening: stale */ }
    if (live) {
      throw new SysError("bind", Errno.EADDRINUSE, `a broker is already listening on ${path}`);
    }
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return unixListen(path, C.SOCK_SEQPACKET, mode, 512);
}

/**
 * A non-blocking Unix socket of `type` listening on `path` (which must not
 * exist), its file mode set to `mode`.
 */
export function unixListen(path: string, type: number, mode: number, backlog: number): number {
  const fd = check("socket", libc().socket(C.AF_UNIX, type | C.SOCK_CLOEXEC | C.SOCK_NONBLOCK, 0));
  try {
    const sa = sockaddrUn(path);
    check("bind", libc().bind(fd, sa, sa.length), path);
    Deno.chmodSync(path, mode);
    check("listen", libc().listen(fd, backlog), path);
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/** Accept one connection (non-blocking, close-on-exec), or undefined if none is waiting. */
export function acceptNonblock(fd: number): number | undefined {
  const r = libc().accept4(fd, null, null, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
  return succeeded("accept4", r, Errno.EAGAIN, Errno.EINTR) ? r : undefined;
}

/** One descriptor's readiness, as poll(2) reports it. */
export interface PollResult {
  /** The descriptor. */
  fd: number;
  /** The returned events (POLLIN, POLLHUP, ...). */
  revents: number;
}

/**
 * Which of `fds` are readable, waiting up to `timeoutMs` on the JavaScript
 * thread itself. A server whose only job is these descriptors saves a thread
 * hop per request this way; it must yield to the event loop between calls.
 */
export function pollNow(fds: number[], timeoutMs: number): PollResult[] {
  const b = new Uint8Array(8 * fds.length);
  const v = new DataView(b.buffer);
  fds.forEach((fd, i) => {
    v.setInt32(8 * i, fd, true);
    v.setInt16(8 * i + 4, C.POLLIN, true);
  });
  if (libc().poll(b, BigInt(fds.length), timeoutMs) <= 0) return [];
  const out: PollResult[] = [];
  fds.forEach((fd, i) => {
    const revents = v.getInt16(8 * i + 6, true);
    if (revents) out.push({ fd, revents });
  });
  return out;
}
