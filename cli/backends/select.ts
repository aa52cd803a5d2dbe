/**
 * Picking a backend: the kernel's when asked for (and loaded) or when "auto"
 * finds af_graft loaded, else the broker's.
 *
 * @module
 */

import { GraftError, UsageError } from "../model/errors.ts";
import type { BackendChoice, EndpointBackend } from "./backend.ts";
import { brokerBackend } from "./broker.ts";
import { kernelAvailable, kernelBackend } from "./kernel.ts";

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
