/**
 * The two ways endpoints are kept: in the kernel (af_graft.ko, over generic
 * netlink) or in the broker (`graft daemon`). Both offer the same operations.
 *
 * @module
 */

import { brokerAdd, brokerDel, brokerList, type LabelledFd } from "./broker_client.ts";
import type { Endpoint } from "./endpoint.ts";
import { GraftError, UsageError } from "./errors.ts";
import { closeFd } from "./ffi.ts";
import { kernelAvailable, kernelBackend } from "./kernel_backend.ts";
import { openNetns } from "./netns.ts";

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
}

/** The broker backend: endpoints live in `graft daemon`. */
export const brokerBackend: EndpointBackend = {
  kind: "broker",
  add(ep, where) {
    const target = ep.netns !== undefined ? openNetns(ep.netns) : undefined;
    try {
      const fds: LabelledFd[] = actFds(where);
      if (target !== undefined) fds.push({ label: "target", fd: target });
      brokerAdd(ep, fds);
    } finally {
      if (target !== undefined) closeFd(target);
    }
  },
  del(name, where) {
    brokerDel(name, actFds(where));
  },
  list(where) {
    return brokerList(actFds(where));
  },
};

function actFds(where: Where): LabelledFd[] {
  return where.netnsFd !== undefined ? [{ label: "act", fd: where.netnsFd }] : [];
}

/** Resolve a backend choice to a backend. */
export function selectBackend(choice: BackendChoice): EndpointBackend {
  switch (choice) {
    case "broker":
      return brokerBackend;
    case "kernel":
      if (!kernelAvailable()) {
        throw new GraftError(
          "kernel backend unavailable: the af_graft module is not loaded " +
            "(load it with modprobe af_graft, or use --backend broker)",
        );
      }
      return kernelBackend;
    case "auto":
      return kernelAvailable() ? kernelBackend : brokerBackend;
    default:
      throw new UsageError(`unknown backend "${choice}" (auto, kernel or broker)`);
  }
}
