/**
 * The versions of graft's three parts: this code, libgraft.so and af_graft.ko.
 *
 * @module
 */

import { preloadVersion } from "../backends/embedded.ts";
import { kernelAvailable } from "../backends/kernel.ts";
import { LIBGRAFT } from "../backends/helper_file.ts";
import { VERSION } from "../model/version.ts";

/** What {@link versions} reports; null for a part that is missing. */
export interface Versions {
  /** This code's version. */
  graft: string;
  /** The version tag compiled into libgraft.so. */
  preload: string | null;
  /** Where that libgraft.so is. */
  preloadFile: string | null;
  /** af_graft.ko's version when it is loaded. */
  kernel: string | null;
}

/** The versions of this code, the preload library and the kernel module. */
export async function versions(): Promise<Versions> {
  let preload: string | undefined;
  let preloadFile: string | undefined;
  try {
    preloadFile = LIBGRAFT.path();
    preload = preloadVersion(await Deno.readFile(preloadFile));
  } catch { /* not built */ }
  let kernel: string | undefined;
  if (kernelAvailable()) {
    try {
      kernel = Deno.readTextFileSync("/sys/module/af_graft/version").trim();
    } catch {
      kernel = "loaded (no version)";
    }
  }
  return {
    graft: VERSION,
    preload: preload ?? null,
    preloadFile: preloadFile ?? null,
    kernel: kernel ?? null,
  };
}
