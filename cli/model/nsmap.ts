/**
 * A namespace's default mappings: the `-i`/`-e` mappings a conversion engine
 * uses for a program that brings none of its own (a container started by a
 * runtime has no `graft run` in front of it). They are kept beside the
 * namespace's endpoints and stored as canonical text, the form libgraft reads
 * from GRAFT_INGRESS_CONVERT / GRAFT_EGRESS_CONVERT.
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import { formatEgress, formatIngress, parseEgress, parseIngress } from "./mapping.ts";

/** Which way a mapping converts. */
export type MapKind = "ingress" | "egress";

/** A namespace's default mappings, canonical text, in the order they were added. */
export interface NamespaceMaps {
  /** Ingress mappings (`ADDR:PORT[-PORT]=EP`). */
  ingress: string[];
  /** Egress mappings (`PREFIX/LEN=EP`). */
  egress: string[];
}

/** No mappings. */
export function emptyMaps(): NamespaceMaps {
  return { ingress: [], egress: [] };
}

/** The canonical text of a mapping of `kind`; throws UsageError when it does not parse. */
export function canonicalMapping(kind: MapKind, text: string): string {
  return kind === "ingress" ? formatIngress(parseIngress(text)) : formatEgress(parseEgress(text));
}

/** Parse the `kind` field of a request. */
export function mapKindOf(v: unknown): MapKind {
  if (v === "ingress" || v === "egress") return v;
  throw new UsageError(`mapping kind must be "ingress" or "egress", not ${JSON.stringify(v)}`);
}

/** The ingress mapping of `list` that overlaps `text` (same address, intersecting port ranges). */
function overlappingIngress(list: string[], text: string): string | undefined {
  const m = parseIngress(text);
  return list.find((t) => {
    const o = parseIngress(t);
    return o.addr === m.addr && o.portLo <= m.portHi && m.portLo <= o.portHi;
  });
}

/** The egress mapping of `list` with the same prefix as `text`, if any. */
function samePrefix(list: string[], text: string): string | undefined {
  const m = parseEgress(text);
  return list.find((t) => {
    const o = parseEgress(t);
    return o.prefix === m.prefix && o.len === m.len;
  });
}

/**
 * Why `text` cannot join `maps` (a duplicate, an overlapping port range, a
 * second endpoint for one prefix), or undefined when it can.
 */
export function mapConflict(maps: NamespaceMaps, kind: MapKind, text: string): string | undefined {
  if (kind === "ingress") {
    const other = overlappingIngress(maps.ingress, text);
    return other && `ingress mapping ${text} overlaps ${other}`;
  }
  const other = samePrefix(maps.egress, text);
  return other && `egress mapping ${text} has the same prefix as ${other}`;
}

/** Names of the endpoints the mappings use. */
export function mappedEndpoints(maps: NamespaceMaps): string[] {
  const eps = [
    ...maps.ingress.map((t) => parseIngress(t).ep),
    ...maps.egress.map((t) => parseEgress(t).ep),
  ];
  return [...new Set(eps)];
}

/** Read a NamespaceMaps from JSON (a reply, a state file); throws on a bad entry. */
export function mapsFromJson(v: unknown): NamespaceMaps {
  const o = (v ?? {}) as Record<string, unknown>;
  const list = (k: MapKind) => {
    const a = o[k] ?? [];
    if (!Array.isArray(a)) throw new UsageError(`${k} mappings must be a list`);
    return a.map((t) => canonicalMapping(k, String(t)));
  };
  return { ingress: list("ingress"), egress: list("egress") };
}
