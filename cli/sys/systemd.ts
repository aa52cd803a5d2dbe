/**
 * The two systemd protocols a service speaks, written by hand: readiness
 * and status over NOTIFY_SOCKET (one datagram, sd_notify(3)), and listening
 * sockets passed by socket activation (LISTEN_PID, LISTEN_FDS; sd_listen_fds(3)).
 *
 * @module
 */

import { C, check, closeFd, errno, libc, strerror } from "./ffi.ts";

/** The first descriptor systemd passes (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

/**
 * The descriptors passed to this process by socket activation, or [] when
 * none were (or they were meant for another process). Clears the variables
 * so that nothing started later believes they are its own.
 */
export function listenFds(env: Pick<typeof Deno.env, "get" | "delete"> = Deno.env): number[] {
  const pid = env.get("LISTEN_PID");
  const n = Number(env.get("LISTEN_FDS") ?? "0");
  env.delete("LISTEN_PID");
  env.delete("LISTEN_FDS");
  env.delete("LISTEN_FDNAMES");
  if (pid === undefined || Number(pid) !== Deno.pid || !Number.isInteger(n) || n < 1) return [];
  return Array.from({ length: n }, (_, i) => LISTEN_FDS_START + i);
}

/** The address of NOTIFY_SOCKET: a path, or an abstract name written "@name". */
function notifyAddress(target: string): Uint8Array<ArrayBuffer> {
  const name = new TextEncoder().encode(target);
  if (name.length === 0 || name.length > 107) throw new RangeError(`bad NOTIFY_SOCKET "${target}"`);
  const b = new Uint8Array(2 + name.length + (target.startsWith("@") ? 0 : 1));
  new DataView(b.buffer).setUint16(0, C.AF_UNIX, true);
  b.set(name, 2);
  if (target.startsWith("@")) b[2] = 0; // abstract: a leading NUL, no trailing one
  return b;
}

/**
 * Send `state` ("READY=1", "STATUS=...", "RELOADING=1", "STOPPING=1") to the
 * service manager. Returns false when there is none (NOTIFY_SOCKET unset);
 * throws a SysError when the datagram cannot be sent.
 */
export function sdNotify(state: string, target = Deno.env.get("NOTIFY_SOCKET")): boolean {
  if (!target) return false;
  const sa = notifyAddress(target);
  const fd = check("socket", libc().socket(C.AF_UNIX, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0));
  try {
    check("connect", libc().connect(fd, sa, sa.length), `NOTIFY_SOCKET ${target}`);
    const msg = new TextEncoder().encode(state);
    const n = Number(libc().send(fd, msg, BigInt(msg.length), C.MSG_NOSIGNAL));
    if (n < 0) {
      const e = errno();
      throw new Error(`sd_notify to ${target}: ${strerror(e)}`);
    }
    return true;
  } finally {
    closeFd(fd);
  }
}
