/**
 * The two ways endpoints are kept: in the kernel (af_graft.ko, over generic
 * netlink) or in the broker (`graft daemon`). Both offer the same operations,
 * described here; select.ts picks one.
 *
 * @module
 */

import type { Endpoint } from "../model/endpoint.ts";
import type { MapKind, NamespaceMaps } from "../model/nsmap.ts";

/** Which backend to use; "auto" picks the kernel when its netlink family exists. */
export type BackendChoice = "auto" | "kernel" | "broker";

/** Where an operation acts: the namespace the endpoints are defined in. */
export interface Where {
  /** Descriptor of the namespace to act in; undefined means the caller's own. */
  netnsFd?: number;
}

/** Endpoint operations, the same for both backends. */
export interface EndpointBackend {
  /** "kernel" or "broker". */
  readonly kind: "kernel" | "broker";
  /** Define an endpoint; its `netns` (target) is resolved by the backend. */
  add(ep: Endpoint, where: Where): void;
  /** Delete an endpoint by name. */
  del(name: string, where: Where): void;
  /** The endpoints defined in a namespace. */
  list(where: Where): Endpoint[];
  /** Add a default mapping (canonical text) to a namespace. */
  mapAdd(kind: MapKind, mapping: string, where: Where): void;
  /** Delete a namespace's default mapping (canonical text). */
  mapDel(kind: MapKind, mapping: string, where: Where): void;
  /** A namespace's default mappings. */
  mapList(where: Where): NamespaceMaps;
}
