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
  /** Where that libgraft.so is (null when it is the copy compiled into graft, not written out yet). */
  preloadFile: string | null;
  /** That libgraft.so is the one compiled into this graft. */
  preloadEmbedded?: boolean;
  /** af_graft.ko's version when it is loaded. */
  kernel: string | null;
}

/**
 * The versions of this code, the preload library and the kernel module.
 * A compiled-in libgraft.so is read where it is, not written out.
 */
export async function versions(): Promise<Versions> {
  const where = LIBGRAFT.locate();
  const preloadFile = where?.path;
  let preload: string | undefined;
  try {
    const bytes = where?.embedded ?? (preloadFile ? await Deno.readFile(preloadFile) : undefined);
    preload = bytes && preloadVersion(bytes);
  } catch { /* unreadable */ }
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
    ...(where?.embedded ? { preloadEmbedded: true } : {}),
    kernel: kernel ?? null,
  };
}
