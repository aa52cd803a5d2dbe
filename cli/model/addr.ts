/**
 * IP addresses and socket addresses: parsing and canonical text. (The
 * binary `struct sockaddr_*` layouts are in sys/sockaddr.ts.)
 *
 * @module
 */

import { isIPv4, isIPv6 } from "node:net";
import { SYS } from "./contract_gen.ts";

/** Parse a dotted-quad IPv4 address into 4 bytes, or undefined if malformed. */
export function parseIPv4(s: string): Uint8Array | undefined {
  if (!isIPv4(s)) return undefined;
  return Uint8Array.from(s.split(".").map(Number));
}

/** Parse an IPv6 address (with `::` and an optional dotted tail) into 16 bytes. */
export function parseIPv6(s: string): Uint8Array | undefined {
  if (!isIPv6(s) || s.includes("%")) return undefined;
  let text = s;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    // A dotted IPv4 tail stands for the last two groups.
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    const hi = ((v4[0] << 8) | v4[1]).toString(16);
    const lo = ((v4[2] << 8) | v4[3]).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = text.split("::");
  const head = halves[0] ? halves[0].split(":") : [];
  const back = halves.length > 1 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length > 1 ? 8 - head.length - back.length : 0;
  const all = [...head, ...new Array(fill).fill("0"), ...back].map((g) => parseInt(g, 16));
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Canonical text of a 4- or 16-byte address (RFC 5952 for IPv6). */
export function formatIP(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  // An IPv4-mapped address keeps its dotted tail (RFC 5952, section 5).
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `::ffff:${Array.from(b.subarray(12)).join(".")}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  // The longest run (>= 2) of zero groups becomes "::".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Which IP version a text address is, or 0 if it is neither. */
export function ipVersion(s: string): 0 | 4 | 6 {
  if (parseIPv4(s)) return 4;
  if (parseIPv6(s)) return 6;
  return 0;
}

/** Maximum length of a Unix socket path (sun_path holds 108 bytes with the NUL). */
export const UNIX_PATH_MAX = SYS.SUN_PATH - 1;

/** A decoded socket address. */
export type SockAddr =
  | { family: "ipv4" | "ipv6"; addr: string; port: number }
  | { family: "unix"; path: string }
  | { family: "other"; af: number };

/** Text for a decoded socket address: `127.0.0.1:80`, `[::1]:80`, or a path. */
export function formatSockaddr(a: SockAddr): string {
  switch (a.family) {
    case "ipv4":
      return `${a.addr}:${a.port}`;
    case "ipv6":
      return `[${a.addr}]:${a.port}`;
    case "unix":
      return a.path || "(unnamed)";
    default:
      return `(family ${a.af})`;
  }
}
