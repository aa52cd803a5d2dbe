/**
 * The kernel backend: endpoints kept by af_graft.ko, managed over the generic
 * netlink family "af_graft".
 *
 * @module
 */

import type { EndpointBackend } from "./backend.ts";
import { GraftError } from "./errors.ts";

/** True when the af_graft module is loaded on this host. */
export function kernelAvailable(): boolean {
  try {
    Deno.statSync("/sys/module/af_graft");
    return true;
  } catch {
    return false;
  }
}

function unavailable(): never {
  throw new GraftError("the kernel backend's netlink client is not built yet");
}

/** Endpoint operations against the kernel module. */
export const kernelBackend: EndpointBackend = {
  kind: "kernel",
  add: unavailable,
  del: unavailable,
  list: unavailable,
};
