/**
 * The binary `struct sockaddr_*` layouts the kernel expects, encoded and
 * decoded.
 *
 * @module
 */

import { formatIP, type SockAddr, UNIX_PATH_MAX } from "../model/addr.ts";
import { C } from "./ffi.ts";

/**
 * The layout both inet sockaddrs share: family (host order) and port (network
 * order) up front, the address at `addrOffset`, every other field zero.
 */
function sockaddrInet(
  family: number,
  size: number,
  addrOffset: number,
  addr: Uint8Array,
  port: number,
): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint16(0, family, true);
  v.setUint16(2, port, false);
  b.set(addr, addrOffset);
  return b;
}

/** Encode `struct sockaddr_in` (16 bytes, sin_addr at 4). */
export function sockaddrIn(addr: Uint8Array, port: number): Uint8Array<ArrayBuffer> {
  return sockaddrInet(C.AF_INET, 16, 4, addr, port);
}

/** Encode `struct sockaddr_in6` (28 bytes, sin6_addr at 8; flow info and scope id 0). */
export function sockaddrIn6(addr: Uint8Array, port: number): Uint8Array<ArrayBuffer> {
  return sockaddrInet(C.AF_INET6, 28, 8, addr, port);
}

/** Encode `struct sockaddr_un` for a filesystem path. */
export function sockaddrUn(path: string): Uint8Array<ArrayBuffer> {
  const p = new TextEncoder().encode(path);
  if (p.length > UNIX_PATH_MAX) throw new RangeError(`unix path too long: ${path}`);
  const b = new Uint8Array(2 + p.length + 1);
  new DataView(b.buffer).setUint16(0, C.AF_UNIX, true);
  b.set(p, 2);
  return b;
}

/** Decode a `struct sockaddr` of the given length. */
export function decodeSockaddr(b: Uint8Array, len = b.length): SockAddr {
  const v = new DataView(b.buffer, b.byteOffset, len);
  const af = len >= 2 ? v.getUint16(0, true) : 0;
  if (af === C.AF_INET && len >= 16) {
    return { family: "ipv4", addr: formatIP(b.slice(4, 8)), port: v.getUint16(2, false) };
  }
  if (af === C.AF_INET6 && len >= 24) {
    return { family: "ipv6", addr: formatIP(b.slice(8, 24)), port: v.getUint16(2, false) };
  }
  if (af === C.AF_UNIX) {
    const raw = b.slice(2, len);
    const nul = raw.indexOf(0);
    return { family: "unix", path: new TextDecoder().decode(nul >= 0 ? raw.slice(0, nul) : raw) };
  }
  return { family: "other", af };
}
