/**
 * Who is at the other end of an accepted Unix socket, read so that a reused
 * PID or namespace inode cannot lie: the network namespace of the peer's
 * socket (SO_NETNS_COOKIE, a 64-bit number the kernel never reuses), and the
 * peer's capabilities read through a pidfd (SO_PEERPIDFD), checked against
 * the pidfd after reading.
 *
 * @module
 */

import { C, closeFd, cstr, Errno, errno, libc, openFd, SysError } from "./ffi.ts";
import { withNetns } from "./netns.ts";
import { getOpt } from "./unix.ts";

/** Socket options and syscalls newer than the rest of the table. */
const S = {
  SO_MEMINFO: 55,
  SO_NETNS_COOKIE: 71,
  SO_PEERPIDFD: 77,
  SO_PASSRIGHTS: 83,
  SK_MEMINFO_WMEM_ALLOC: 2,
  SYS_PIDFD_OPEN: 434,
} as const;

/** Linux capability numbers the broker asks about. */
export const Cap = {
  NET_BIND_SERVICE: 10,
  NET_ADMIN: 12,
  SYS_ADMIN: 21,
} as const;

/** A peer's capabilities as they bear on the broker's initial user namespace. */
export interface PeerCaps {
  /** Effective capabilities, meaningful in the initial user namespace only when `initUserns`. */
  effective: bigint;
  /** The peer runs in the broker's user namespace (the initial one for a root broker). */
  initUserns: boolean;
}

/** No capabilities at all: what a process that is gone, or cannot be read, holds. */
export const NO_CAPS: PeerCaps = { effective: 0n, initUserns: false };

/** True when `caps` hold capability `cap` over the broker's user namespace. */
export function hasCap(caps: PeerCaps, cap: number): boolean {
  return caps.initUserns && (caps.effective & (1n << BigInt(cap))) !== 0n;
}

/** A SOL_SOCKET option's bytes (at most `size`); a SysError when the kernel refuses it. */
function optBytes(fd: number, name: number, size: number, context?: string): Uint8Array {
  const b = new Uint8Array(size);
  return b.subarray(0, getOpt(fd, C.SOL_SOCKET, name, b, context));
}

/**
 * The network namespace cookie of a socket: for an accepted Unix socket, the
 * namespace the peer created its socket in. Throws where the kernel lacks
 * SO_NETNS_COOKIE (before 5.14).
 */
export function socketNetnsCookie(fd: number): bigint {
  const b = optBytes(fd, S.SO_NETNS_COOKIE, 8, "SO_NETNS_COOKIE");
  if (b.length !== 8) throw new SysError("getsockopt", Errno.EINVAL, "SO_NETNS_COOKIE");
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/** The cookie of the network namespace an nsfs descriptor refers to. */
export function netnsCookieOfFd(nsFd: number | undefined): bigint {
  return withNetns(nsFd, () => {
    const s = libc().socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0);
    if (s < 0) throw new SysError("socket", errno(), "netns cookie");
    try {
      return socketNetnsCookie(s);
    } finally {
      closeFd(s);
    }
  });
}

/**
 * Turn descriptor passing (SCM_RIGHTS) to `fd` on or off. Returns false where
 * the kernel has no SO_PASSRIGHTS (before 6.16): descriptors still arrive.
 */
export function setPassRights(fd: number, on: boolean): boolean {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, on ? 1 : 0, true);
  return libc().setsockopt(fd, C.SOL_SOCKET, S.SO_PASSRIGHTS, v, 4) === 0;
}

/** Bytes this socket sent that the peer has not read yet (Unix sockets). */
export function unreadBytes(fd: number): number {
  let b: Uint8Array;
  try {
    b = optBytes(fd, S.SO_MEMINFO, 36);
  } catch (e) {
    if (e instanceof SysError) return 0;
    throw e;
  }
  if (b.length < 12) return 0;
  return new DataView(b.buffer, b.byteOffset, b.length).getUint32(
    4 * S.SK_MEMINFO_WMEM_ALLOC,
    true,
  );
}

/** Scratch for the small /proc files read per new connection (status is about 1.5 KiB). */
const procBuf = new Uint8Array(8192);
const latin1 = new TextDecoder("latin1");

/**
 * A /proc file of at most a few KiB in one open, read and close through libc
 * (a new broker connection reads three: Deno's file API would add a stat, a
 * seek and a read per chunk to each); undefined when it cannot be read.
 */
function readProc(path: string): string | undefined {
  try {
    const fd = openFd(path);
    try {
      const n = Number(libc().read(fd, procBuf, BigInt(procBuf.length)));
      if (n < 0) return undefined;
      // Longer (a process in thousands of groups): read the whole file.
      if (n === procBuf.length) return Deno.readTextFileSync(path);
      return latin1.decode(procBuf.subarray(0, n));
    } finally {
      closeFd(fd);
    }
  } catch {
    return undefined;
  }
}

/** What a namespace file links to ("user:[4026531837]"), or undefined. */
function nsLink(path: string): string | undefined {
  const n = Number(libc().readlink(cstr(path), procBuf, BigInt(procBuf.length)));
  return n > 0 ? latin1.decode(procBuf.subarray(0, n)) : undefined;
}

/** The broker's own user namespace, read once (a process cannot leave its user namespace for another while threads share it). */
let ownUserns: string | undefined;

/** The PID a pidfd refers to in our PID namespace, or -1 once the process is gone. */
function pidOfPidfd(pidfd: number): number {
  const m = readProc(`/proc/self/fdinfo/${pidfd}`)?.match(/^Pid:\s*(-?\d+)/m);
  return m ? Number(m[1]) : -1;
}

/**
 * A pidfd for the peer of `fd`: SO_PEERPIDFD, or pidfd_open of the SO_PEERCRED
 * PID (`fd` < 0: a process known by PID only, such as a seccomp-trapped one).
 */
function peerPidfd(fd: number, credPid: number): number | undefined {
  if (fd >= 0) {
    try {
      const b = optBytes(fd, S.SO_PEERPIDFD, 4);
      return b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true) : undefined;
    } catch (e) {
      if (!(e instanceof SysError) || e.errno !== Errno.ENOPROTOOPT) return undefined;
    }
  }
  if (credPid <= 0) return undefined;
  // Before 6.5: the PID the socket recorded may have been reused since; the
  // caller's check below (the PID still owns the credentials we read) stays.
  const r = Number(libc().syscall(BigInt(S.SYS_PIDFD_OPEN), BigInt(credPid), 0n, 0n));
  return r >= 0 ? r : undefined;
}

function parseStatus(text: string): { uid: number; caps: bigint } | undefined {
  const uid = text.match(/^Uid:\s*\d+\s+(\d+)/m);
  const cap = text.match(/^CapEff:\s*([0-9a-f]+)/m);
  if (!uid || !cap) return undefined;
  return { uid: Number(uid[1]), caps: BigInt("0x" + cap[1]) };
}

/**
 * The capabilities of the process at the other end of `fd`, read race-free:
 * the process is pinned by a pidfd, its /proc entry is read, and the pidfd
 * must still name a live process with that PID afterwards (so the PID was not
 * reused in between). `credUid` is SO_PEERCRED's uid, which the process must
 * still have. A process that is gone, or unreadable, has {@link NO_CAPS}.
 */
export function peerCaps(fd: number, credPid: number, credUid: number): PeerCaps {
  const pidfd = peerPidfd(fd, credPid);
  if (pidfd === undefined) return NO_CAPS;
  try {
    const pid = pidOfPidfd(pidfd);
    if (pid <= 0) return NO_CAPS;
    const text = readProc(`/proc/${pid}/status`);
    const status = text === undefined ? undefined : parseStatus(text);
    const userns = nsLink(`/proc/${pid}/ns/user`);
    ownUserns ??= nsLink("/proc/self/ns/user");
    if (!status || userns === undefined || status.uid !== credUid || pidOfPidfd(pidfd) !== pid) {
      return NO_CAPS;
    }
    return { effective: status.caps, initUserns: userns === ownUserns };
  } finally {
    closeFd(pidfd);
  }
}

/**
 * The lowest port an unprivileged process may bind in the namespace `nsFd`
 * (net.ipv4.ip_unprivileged_port_start; 1024 when unreadable).
 */
export function unprivilegedPortStart(nsFd: number | undefined): number {
  return withNetns(nsFd, () => {
    try {
      const v = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start"));
      return Number.isInteger(v) ? v : 1024;
    } catch {
      return 1024;
    }
  });
}
