/**
 * The broker's endpoints, per client namespace. Each namespace that defines
 * endpoints is held by a descriptor (so its identity cannot be reused while
 * endpoints refer to it), and so is each endpoint's target namespace.
 *
 * @module
 */

import type { Endpoint } from "../model/endpoint.ts";
import { emptyMaps, mapConflict, type MapKind, type NamespaceMaps } from "../model/nsmap.ts";
import { closeFd, Errno, openFd } from "../sys/ffi.ts";
import { netnsIdOfFd, netnsKey } from "../sys/netns.ts";
import { netnsCookieOfFd } from "../sys/peer.ts";
import { liveNamespaces } from "../sys/procscan.ts";
import { Refusal } from "./policy.ts";

/**
 * The key of the namespace an nsfs descriptor refers to: its cookie, a number
 * the kernel never gives to another namespace (an nsfs inode is reused as soon
 * as the namespace is gone). A client's key is its socket's cookie.
 */
export function namespaceKey(nsFd: number): string {
  return String(netnsCookieOfFd(nsFd));
}

/** An endpoint and the namespace its sockets are made in. */
export interface StoredEndpoint {
  /** The endpoint as defined. */
  ep: Endpoint;
  /** Identity of the target namespace. */
  targetKey: string;
  /** Descriptor of the target namespace; held while the endpoint exists. */
  targetFd: number;
}

/** A client namespace and its endpoints. */
export interface NsEntry {
  /** Identity of the namespace: its cookie (see {@link namespaceKey}). */
  key: string;
  /** Its nsfs inode. */
  ino: number;
  /** Held so the namespace's identity cannot be reused while endpoints refer to it. */
  fd: number;
  /** Endpoints by name. */
  endpoints: Map<string, StoredEndpoint>;
  /** Default mappings for programs that bring none (canonical text). */
  maps: NamespaceMaps;
}

/** Endpoints by client namespace. */
export class Registry {
  readonly #namespaces = new Map<string, NsEntry>();

  /** The namespaces that define endpoints. */
  namespaces(): IterableIterator<NsEntry> {
    return this.#namespaces.values();
  }

  /** A namespace's entry, if it defines endpoints. */
  get(key: string): NsEntry | undefined {
    return this.#namespaces.get(key);
  }

  /** The endpoint `name` of namespace `key`, or a refusal naming it. */
  lookup(key: string, name: string): StoredEndpoint {
    const stored = this.#namespaces.get(key)?.endpoints.get(name);
    if (!stored) {
      throw new Refusal(Errno.EADDRNOTAVAIL, `no endpoint "${name}" in this network namespace`);
    }
    return stored;
  }

  /**
   * Define `ep` in the namespace `key`, opened through `nsPath` (checked to
   * still be `key`). Adopts `targetFd` (the caller must not close it).
   */
  add(key: string, nsPath: string, ep: Endpoint, targetFd: number): NsEntry {
    if (this.#namespaces.get(key)?.endpoints.has(ep.name)) {
      throw new Refusal(Errno.EEXIST, `endpoint ${ep.name} already exists in this namespace`);
    }
    const ns = this.#adopt(key, nsPath);
    ns.endpoints.set(ep.name, { ep, targetFd, targetKey: netnsKey(netnsIdOfFd(targetFd)) });
    return ns;
  }

  /** Delete endpoint `name` of namespace `key`; returns the namespace's inode. */
  delete(key: string, name: string): number {
    const ns = this.#namespaces.get(key);
    const stored = ns?.endpoints.get(name);
    if (!ns || !stored) throw new Refusal(Errno.ENOENT, `no endpoint "${name}" in this namespace`);
    ns.endpoints.delete(name);
    closeFd(stored.targetFd);
    this.#dropIfEmpty(ns);
    return ns.ino;
  }

  /** Add a default mapping (canonical text) to namespace `key`, opened through `nsPath`. */
  addMapping(key: string, nsPath: string, kind: MapKind, text: string): NsEntry {
    const existing = this.#namespaces.get(key);
    const why = existing && mapConflict(existing.maps, kind, text);
    if (why) throw new Refusal(Errno.EEXIST, why);
    const ns = this.#adopt(key, nsPath);
    ns.maps[kind].push(text);
    return ns;
  }

  /** Delete a default mapping of namespace `key`; returns the namespace's inode. */
  deleteMapping(key: string, kind: MapKind, text: string): number {
    const ns = this.#namespaces.get(key);
    const i = ns ? ns.maps[kind].indexOf(text) : -1;
    if (!ns || i < 0) {
      throw new Refusal(Errno.ENOENT, `no ${kind} mapping ${text} in this namespace`);
    }
    ns.maps[kind].splice(i, 1);
    this.#dropIfEmpty(ns);
    return ns.ino;
  }

  /** A namespace with neither endpoints nor mappings is not held any more. */
  #dropIfEmpty(ns: NsEntry): void {
    if (ns.endpoints.size === 0 && ns.maps.ingress.length + ns.maps.egress.length === 0) {
      this.#drop(ns);
    }
  }

  /** The entry for a namespace, creating it (and holding a descriptor) on first use. */
  #adopt(key: string, nsPath: string): NsEntry {
    let ns = this.#namespaces.get(key);
    if (ns) return ns;
    const fd = openFd(nsPath);
    const id = netnsIdOfFd(fd);
    if (namespaceKey(fd) !== key) {
      closeFd(fd);
      throw new Refusal(Errno.ESRCH, "the caller's namespace changed during the request");
    }
    ns = { key, ino: id.ino, fd, endpoints: new Map(), maps: emptyMaps() };
    this.#namespaces.set(key, ns);
    return ns;
  }

  #drop(ns: NsEntry): void {
    for (const s of ns.endpoints.values()) closeFd(s.targetFd);
    ns.endpoints.clear();
    closeFd(ns.fd);
    this.#namespaces.delete(ns.key);
  }

  /** Forget everything (closing every descriptor held). */
  clear(): void {
    for (const ns of [...this.#namespaces.values()]) this.#drop(ns);
  }

  /**
   * Forget the endpoints of namespaces nobody else uses any more: no process
   * in them and no bind mount (such as /run/netns/NAME) keeping them.
   * Returns the dropped entries (already closed).
   */
  collectGarbage(): NsEntry[] {
    if (this.#namespaces.size === 0) return [];
    const live = liveNamespaces();
    const dropped: NsEntry[] = [];
    for (const ns of [...this.#namespaces.values()]) {
      if (live.has(ns.ino)) continue;
      dropped.push({ ...ns, endpoints: new Map(ns.endpoints) });
      this.#drop(ns);
    }
    return dropped;
  }

  /** Number of namespaces and endpoints held. */
  get size(): { namespaces: number; endpoints: number } {
    let endpoints = 0;
    for (const ns of this.#namespaces.values()) endpoints += ns.endpoints.size;
    return { namespaces: this.#namespaces.size, endpoints };
  }
}
