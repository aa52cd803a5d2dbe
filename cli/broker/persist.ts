/**
 * Between the broker's registry and its state file: a snapshot of the
 * endpoints with a reference to find each namespace again, and the restore
 * of a saved state into a registry (dropping, with a reason, what cannot be
 * found safely).
 *
 * @module
 */

import type { NamespaceMaps } from "../model/nsmap.ts";
import { closeFd, openFd } from "../sys/ffi.ts";
import { netnsIdOfFd, netnsKey } from "../sys/netns.ts";
import { namespaceKey, type Registry } from "./registry.ts";
import {
  describeRef,
  Identifier,
  type NsRef,
  openRef,
  type SavedEndpoint,
  type State,
  STATE_VERSION,
} from "./state.ts";

/** Remembers how each namespace was identified, so a save rarely scans /proc. */
export class RefCache {
  readonly #refs = new Map<string, NsRef>();

  /**
   * The reference for the namespace the registry knows as `key` and holds by
   * `fd`: the cached one while still right, else a new one.
   */
  refFor(key: string, fd: number, id: Identifier): NsRef {
    const devIno = netnsKey(netnsIdOfFd(fd));
    const cached = this.#refs.get(key);
    if (cached && id.stillValid(cached, devIno)) return cached;
    const ref = id.identify(devIno);
    this.#refs.set(key, ref);
    return ref;
  }

  /** Remember what a restore resolved, so the next save keeps the same reference. */
  remember(key: string, ref: NsRef): void {
    this.#refs.set(key, ref);
  }
}

/** The registry as a state to save. */
export function snapshot(registry: Registry, cache: RefCache): State {
  const id = new Identifier();
  const namespaces = [...registry.namespaces()].map((ns) => ({
    ns: cache.refFor(ns.key, ns.fd, id),
    endpoints: [...ns.endpoints.values()].map((s): SavedEndpoint =>
      s.ep.netns === undefined ? { endpoint: s.ep } : {
        endpoint: s.ep,
        target: cache.refFor(s.targetKey, s.targetFd, id),
      }
    ),
    ...(ns.maps.ingress.length + ns.maps.egress.length ? { maps: ns.maps } : {}),
  }));
  return { version: STATE_VERSION, namespaces };
}

/** What a restore did. */
export interface Restored {
  /** Namespaces restored. */
  namespaces: number;
  /** Endpoints restored. */
  endpoints: number;
  /** Default mappings restored. */
  maps: number;
  /** One line per namespace or endpoint left out, saying why. */
  dropped: string[];
}

/**
 * Put a saved state into an (empty) registry. `defaultTarget` is the
 * broker's default target namespace; `held` finds a descriptor the broker
 * still holds for a namespace key (on SIGHUP).
 */
export function restore(
  state: State,
  registry: Registry,
  cache: RefCache,
  defaultTarget: number,
  held?: (key: string) => number | undefined,
): Restored {
  const out: Restored = { namespaces: 0, endpoints: 0, maps: 0, dropped: [] };
  for (const saved of state.namespaces) {
    const fd = openRef(saved.ns, held);
    const n = saved.endpoints.length;
    const m = (saved.maps?.ingress.length ?? 0) + (saved.maps?.egress.length ?? 0);
    if (typeof fd === "string") {
      const what = m ? `${n} endpoint(s) and ${m} mapping(s)` : `${n} endpoint(s)`;
      out.dropped.push(`dropped ${what} of ${describeRef(saved.ns)}: ${fd}`);
      continue;
    }
    try {
      const key = namespaceKey(fd);
      cache.remember(key, saved.ns);
      const added = restoreEndpoints(saved.endpoints, key, fd, registry, cache, defaultTarget, held)
        .map((why) => `dropped endpoint of ${describeRef(saved.ns)}: ${why}`);
      out.dropped.push(...added);
      const maps = restoreMaps(saved.maps, key, fd, registry)
        .map((why) => `dropped mapping of ${describeRef(saved.ns)}: ${why}`);
      out.dropped.push(...maps);
      if (n + m > added.length + maps.length) out.namespaces++;
      out.endpoints += n - added.length;
      out.maps += m - maps.length;
    } finally {
      closeFd(fd);
    }
  }
  return out;
}

/** Restore one namespace's default mappings; returns why each one left out was. */
function restoreMaps(
  maps: NamespaceMaps | undefined,
  key: string,
  nsFd: number,
  registry: Registry,
): string[] {
  const dropped: string[] = [];
  for (const kind of ["ingress", "egress"] as const) {
    for (const text of maps?.[kind] ?? []) {
      try {
        registry.addMapping(key, `/proc/self/fd/${nsFd}`, kind, text);
      } catch (e) {
        dropped.push(`${text}: ${(e as Error).message}`);
      }
    }
  }
  return dropped;
}

/** Restore one namespace's endpoints; returns why each one left out was. */
function restoreEndpoints(
  eps: SavedEndpoint[],
  key: string,
  nsFd: number,
  registry: Registry,
  cache: RefCache,
  defaultTarget: number,
  held?: (key: string) => number | undefined,
): string[] {
  const dropped: string[] = [];
  for (const { endpoint, target } of eps) {
    const tfd = target ? openRef(target, held) : openFd(`/proc/self/fd/${defaultTarget}`);
    if (typeof tfd === "string") {
      dropped.push(`${endpoint.name}: its target ${tfd}`);
      continue;
    }
    try {
      if (target) cache.remember(netnsKey(netnsIdOfFd(tfd)), target);
      registry.add(key, `/proc/self/fd/${nsFd}`, endpoint, tfd);
    } catch (e) {
      closeFd(tfd);
      dropped.push(`${endpoint.name}: ${(e as Error).message}`);
    }
  }
  return dropped;
}
