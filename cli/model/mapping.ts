/**
 * The launcher's conversion mappings, with the seed's meaning:
 *
 * - ingress `ADDR:PORT[-PORT]=EP`: a bind() to exactly ADDR with a port in
 *   the range is grafted onto endpoint EP (IPv6 as `[::]:80=ep` or `:::80=ep`);
 * - egress `PREFIX/LEN=EP`: a connect() or sendto() whose destination falls in
 *   PREFIX is grafted onto EP first; the longest matching prefix wins.
 *
 * The preload library parses the same syntax from GRAFT_INGRESS_CONVERT and
 * GRAFT_EGRESS_CONVERT; the launcher validates it first so that a mistake is
 * one clear line before anything starts.
 *
 * @module
 */

import { formatIP, parseIPv4, parseIPv6 } from "./addr.ts";
import { validateName } from "./endpoint.ts";
import { GraftError, UsageError } from "./errors.ts";

/** An ingress mapping. */
export interface IngressMapping {
  /** The bind address to match, canonical text. */
  addr: string;
  /** 4 or 6. */
  version: 4 | 6;
  /** First port of the range. */
  portLo: number;
  /** Last port of the range (inclusive). */
  portHi: number;
  /** Endpoint name. */
  ep: string;
}

/** An egress mapping. */
export interface EgressMapping {
  /** Network address of the prefix, canonical text. */
  prefix: string;
  /** 4 or 6. */
  version: 4 | 6;
  /** Prefix length. */
  len: number;
  /** Endpoint name. */
  ep: string;
}

function splitEp(kind: string, text: string, expected: string): [string, string] {
  const eq = text.lastIndexOf("=");
  if (eq <= 0 || eq === text.length - 1) {
    throw new UsageError(`bad ${kind} mapping "${text}": expected ${expected}`);
  }
  const ep = text.slice(eq + 1);
  try {
    validateName(ep);
  } catch (e) {
    throw new UsageError(`bad ${kind} mapping "${text}": ${(e as GraftError).message}`);
  }
  return [text.slice(0, eq), ep];
}

function port(kind: string, text: string, word: string): number {
  if (!/^\d+$/.test(word) || Number(word) > 65535) {
    throw new UsageError(`bad ${kind} mapping "${text}": port "${word}" is not 0..65535`);
  }
  return Number(word);
}

/** Parse one `-i` mapping. */
export function parseIngress(text: string): IngressMapping {
  const expected = "ADDR:PORT[-PORT]=ENDPOINT";
  const [left, ep] = splitEp("ingress", text, expected);
  let addrText: string, portText: string;
  const bracket = /^\[([^\]]+)\]:(.+)$/.exec(left);
  if (bracket) {
    [addrText, portText] = [bracket[1], bracket[2]];
  } else {
    const colon = left.lastIndexOf(":");
    if (colon <= 0) throw new UsageError(`bad ingress mapping "${text}": expected ${expected}`);
    [addrText, portText] = [left.slice(0, colon), left.slice(colon + 1)];
  }
  const v4 = bracket ? undefined : parseIPv4(addrText); // brackets hold IPv6 only
  const v6 = v4 ? undefined : parseIPv6(addrText);
  if (!v4 && !v6) {
    throw new UsageError(`bad ingress mapping "${text}": "${addrText}" is not an IP address`);
  }
  const range = portText.split("-");
  if (range.length > 2) throw new UsageError(`bad ingress mapping "${text}": bad port range`);
  const portLo = port("ingress", text, range[0]);
  const portHi = range.length === 2 ? port("ingress", text, range[1]) : portLo;
  if (portHi < portLo) {
    throw new UsageError(`bad ingress mapping "${text}": port range ${portLo}-${portHi} is empty`);
  }
  return { addr: formatIP((v4 ?? v6)!), version: v4 ? 4 : 6, portLo, portHi, ep };
}

/** Parse one `-e` mapping. */
export function parseEgress(text: string): EgressMapping {
  const expected = "PREFIX/LEN=ENDPOINT";
  const [left, ep] = splitEp("egress", text, expected);
  const slash = left.lastIndexOf("/");
  if (slash <= 0) throw new UsageError(`bad egress mapping "${text}": expected ${expected}`);
  const addrText = left.slice(0, slash);
  const lenText = left.slice(slash + 1);
  const bytes = parseIPv4(addrText) ?? parseIPv6(addrText);
  if (!bytes) {
    throw new UsageError(`bad egress mapping "${text}": "${addrText}" is not an IP address`);
  }
  const max = bytes.length * 8;
  if (!/^\d+$/.test(lenText) || Number(lenText) > max) {
    throw new UsageError(
      `bad egress mapping "${text}": prefix length "${lenText}" is not 0..${max}`,
    );
  }
  const len = Number(lenText);
  // Keep the network part only, so 10.1.2.3/8 reads back as 10.0.0.0/8.
  const net = bytes.slice();
  for (let bit = len; bit < max; bit++) net[bit >> 3] &= ~(0x80 >> (bit & 7));
  return { prefix: formatIP(net), version: bytes.length === 4 ? 4 : 6, len, ep };
}

/** The text form the preload reads back. */
export function formatIngress(m: IngressMapping): string {
  const a = m.version === 6 ? `[${m.addr}]` : m.addr;
  const p = m.portLo === m.portHi ? `${m.portLo}` : `${m.portLo}-${m.portHi}`;
  return `${a}:${p}=${m.ep}`;
}

/** The text form the preload reads back. */
export function formatEgress(m: EgressMapping): string {
  return `${m.prefix}/${m.len}=${m.ep}`;
}

/**
 * The egress mapping an address would use: longest prefix of the same IP
 * version. (The preload implements the same choice in C.)
 */
export function chooseEgress(maps: EgressMapping[], addr: string): EgressMapping | undefined {
  const target = parseIPv4(addr) ?? parseIPv6(addr);
  if (!target) return undefined;
  let best: EgressMapping | undefined;
  for (const m of maps) {
    const net = parseIPv4(m.prefix) ?? parseIPv6(m.prefix)!;
    if (net.length !== target.length) continue;
    let ok = true;
    for (let bit = 0; bit < m.len && ok; bit++) {
      const mask = 0x80 >> (bit & 7);
      ok = (net[bit >> 3] & mask) === (target[bit >> 3] & mask);
    }
    if (ok && (!best || m.len > best.len)) best = m;
  }
  return best;
}
