/**
 * The mappings' meaning, for the seccomp engine: which endpoint a bind()
 * address or a connect()/sendto() destination goes to. The same rules as
 * libgraft's (preload/mapping.c): ingress matches the exact address and a
 * port in range, a dual-stack `[::]` or a v4-mapped bind falls back to the
 * IPv4 mapping (never for an IPV6_V6ONLY socket, which cannot serve IPv4);
 * egress takes the longest matching prefix, a v4-mapped destination being an
 * IPv4 one. Pure: no I/O.
 *
 * @module
 */

import { parseIPv4, parseIPv6 } from "../../model/addr.ts";
import type { EgressMapping, IngressMapping } from "../../model/mapping.ts";

/** An INET socket address taken apart. */
export interface InetAddr {
  /** 4 or 6. */
  version: 4 | 6;
  /** 4 or 16 bytes. */
  raw: Uint8Array;
  /** Host-order port. */
  port: number;
}

const AF_INET = 2, AF_INET6 = 10;

/** Take a `struct sockaddr_in`/`sockaddr_in6` apart; undefined for anything else. */
export function parseInet(b: Uint8Array): InetAddr | undefined {
  if (b.length < 2) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const af = v.getUint16(0, true);
  if (af === AF_INET && b.length >= 16) {
    return { version: 4, raw: b.slice(4, 8), port: v.getUint16(2, false) };
  }
  if (af === AF_INET6 && b.length >= 24) {
    return { version: 6, raw: b.slice(8, 24), port: v.getUint16(2, false) };
  }
  return undefined;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function isV4Mapped(raw: Uint8Array): boolean {
  return raw.length === 16 && raw.subarray(0, 10).every((x) => x === 0) && raw[10] === 0xff &&
    raw[11] === 0xff;
}

/** Whether an address is the wildcard of its family. */
export function isWildcard(a: InetAddr): boolean {
  return a.raw.every((x) => x === 0);
}

function ingressFind(
  maps: IngressMapping[],
  version: 4 | 6,
  raw: Uint8Array,
  port: number,
): IngressMapping | undefined {
  return maps.find((m) => {
    if (m.version !== version || port < m.portLo || port > m.portHi) return false;
    const addr = version === 4 ? parseIPv4(m.addr) : parseIPv6(m.addr);
    return addr !== undefined && same(addr, raw);
  });
}

/** The ingress mapping for a bind() to `a`; `v6only` is the socket's IPV6_V6ONLY. */
export function matchIngress(
  maps: IngressMapping[],
  a: InetAddr,
  v6only: boolean,
): IngressMapping | undefined {
  const m = ingressFind(maps, a.version, a.raw, a.port);
  if (m || a.version === 4 || v6only) return m;
  if (isWildcard(a)) return ingressFind(maps, 4, new Uint8Array(4), a.port);
  if (isV4Mapped(a.raw)) return ingressFind(maps, 4, a.raw.slice(12), a.port);
  return undefined;
}

function prefixMatches(prefix: Uint8Array, len: number, raw: Uint8Array): boolean {
  const full = len >> 3, rest = len & 7;
  if (!same(prefix.subarray(0, full), raw.subarray(0, full))) return false;
  return rest === 0 || ((prefix[full] ^ raw[full]) & (0xff00 >> rest) & 0xff) === 0;
}

/** The egress mapping for a destination `a` (longest prefix), if any. */
export function matchEgress(maps: EgressMapping[], a: InetAddr): EgressMapping | undefined {
  let version = a.version, raw = a.raw;
  if (version === 6 && isV4Mapped(raw)) [version, raw] = [4, raw.slice(12)];
  let best: EgressMapping | undefined;
  for (const m of maps) {
    if (m.version !== version || (best && m.len <= best.len)) continue;
    const prefix = version === 4 ? parseIPv4(m.prefix) : parseIPv6(m.prefix);
    if (prefix && prefixMatches(prefix, m.len, raw)) best = m;
  }
  return best;
}

/**
 * Parse listener metadata: the mappings as `graft run` writes them,
 * `-i ADDR:PORT[-PORT]=EP` and `-e PREFIX/LEN=EP` words separated by spaces,
 * and `--names host` (getsockname() shows the host's view) or
 * `--names program` (the default).
 */
export function parseMetadata(
  text: string,
  parseIngress: (s: string) => IngressMapping,
  parseEgress: (s: string) => EgressMapping,
): { ingress: IngressMapping[]; egress: EgressMapping[]; namesHost: boolean } {
  const words = text.trim().split(/\s+/).filter((w) => w !== "");
  const out = { ingress: [] as IngressMapping[], egress: [] as EgressMapping[], namesHost: false };
  for (let i = 0; i < words.length; i++) {
    const [w, arg] = [words[i], words[i + 1]];
    if (w === "-i" && arg !== undefined) out.ingress.push(parseIngress(arg));
    else if (w === "-e" && arg !== undefined) out.egress.push(parseEgress(arg));
    else if (w === "--names" && (arg === "host" || arg === "program")) {
      out.namesHost = arg === "host";
    } else {
      throw new Error(
        `bad mapping metadata near "${w}": expected -i MAPPING, -e MAPPING or --names host|program`,
      );
    }
    i++;
  }
  return out;
}
