/**
 * The socket options the seccomp engine carries from a program's socket to
 * its host replacement, with a fresh socket's values: only options the
 * program changed are copied (as libgraft records only the options the
 * program set). The broker still decides which of them it applies.
 *
 * @module
 */

import { C, closeFd, libc } from "../../sys/ffi.ts";
import { getOpt } from "../../sys/unix.ts";

/** One option and a fresh socket's value of it. */
export interface OptionDefault {
  /** Option level. */
  level: number;
  /** Option name. */
  name: number;
  /** A fresh socket's value (its length is the option's size). */
  value: Uint8Array;
  /** A buffer size: the kernel reports twice the value set. */
  halve?: boolean;
}

const TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5, TCP_KEEPCNT = 6;

/** [level, name, size, halve] of every option carried over. */
function candidates(family: number, type: number): [number, number, number, boolean][] {
  const list: [number, number, number, boolean][] = [
    [C.SOL_SOCKET, C.SO_REUSEADDR, 4, false],
    [C.SOL_SOCKET, C.SO_REUSEPORT, 4, false],
    [C.SOL_SOCKET, C.SO_KEEPALIVE, 4, false],
    [C.SOL_SOCKET, C.SO_BROADCAST, 4, false],
    [C.SOL_SOCKET, C.SO_SNDBUF, 4, true],
    [C.SOL_SOCKET, C.SO_RCVBUF, 4, true],
    [C.SOL_SOCKET, C.SO_LINGER, 8, false],
    [C.SOL_SOCKET, C.SO_RCVTIMEO, 16, false],
    [C.SOL_SOCKET, C.SO_SNDTIMEO, 16, false],
  ];
  if (family === C.AF_INET) list.push([C.IPPROTO_IP, C.IP_TOS, 4, false]);
  if (family === C.AF_INET) list.push([C.IPPROTO_IP, C.IP_TTL, 4, false]);
  if (family === C.AF_INET6) {
    list.push([C.IPPROTO_IPV6, C.IPV6_V6ONLY, 4, false], [C.IPPROTO_IPV6, C.IPV6_TCLASS, 4, false]);
  }
  if (type === C.SOCK_STREAM) {
    list.push(
      [C.IPPROTO_TCP, C.TCP_NODELAY, 4, false],
      [C.IPPROTO_TCP, TCP_KEEPIDLE, 4, false],
      [C.IPPROTO_TCP, TCP_KEEPINTVL, 4, false],
      [C.IPPROTO_TCP, TCP_KEEPCNT, 4, false],
    );
  }
  return list;
}

const cache = new Map<string, OptionDefault[]>();

/** The carried options with a fresh socket's values, for this family and type (cached). */
export function socketDefaults(family: number, type: number): OptionDefault[] {
  const key = `${family}:${type}`;
  let list = cache.get(key);
  if (list) return list;
  list = [];
  const fd = libc().socket(family, type | C.SOCK_CLOEXEC, 0);
  if (fd < 0) return list;
  try {
    for (const [level, name, size, halve] of candidates(family, type)) {
      const value = new Uint8Array(size);
      try {
        if (getOpt(fd, level, name, value) !== size) continue;
      } catch {
        continue;
      }
      list.push({ level, name, value, halve });
    }
  } finally {
    closeFd(fd);
  }
  cache.set(key, list);
  return list;
}
