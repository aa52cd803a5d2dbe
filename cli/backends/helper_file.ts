/**
 * The helper files graft hands to the programs it launches, libgraft.so and
 * graft-exec, and where they are found: the path an environment variable
 * names, then the copy a compiled graft extracts from itself, then the build
 * beside this checkout's cli/.
 *
 * @module
 */

import { GraftError } from "../model/errors.ts";

/** One helper file and the places it is looked for, in order. */
export class HelperFile {
  #embedded: string | undefined;

  /**
   * @param name the file's name in messages ("libgraft.so")
   * @param envVar the variable that names its path ("GRAFT_PRELOAD")
   * @param beside its build in this checkout (not a file: URL in a compiled binary)
   */
  constructor(readonly name: string, readonly envVar: string, readonly beside: URL) {}

  /**
   * Use the compiled binary's own copy, which `extract` writes out and names,
   * unless the variable names a file: then nothing is extracted.
   */
  async useEmbedded(extract: () => Promise<string | undefined>): Promise<void> {
    if (!Deno.env.get(this.envVar)) this.#embedded = await extract();
  }

  /** The first of the places that holds a regular file; a GraftError saying how to get one. */
  path(): string {
    const candidates = [
      Deno.env.get(this.envVar),
      this.#embedded,
      this.beside.protocol === "file:" ? this.beside.pathname : undefined,
    ];
    for (const p of candidates) {
      try {
        if (p && Deno.statSync(p).isFile) return p;
      } catch { /* try the next */ }
    }
    throw new GraftError(
      `${this.name} not found: run ./scripts/setup to build it, or set ${this.envVar} to its path`,
    );
  }
}

/** libgraft.so, the preload library `graft run` puts in LD_PRELOAD. */
export const LIBGRAFT = new HelperFile(
  "libgraft.so",
  "GRAFT_PRELOAD",
  new URL("../../preload/build/libgraft.so", import.meta.url),
);

/** graft-exec, which starts a program under the seccomp engine. */
export const GRAFT_EXEC = new HelperFile(
  "graft-exec",
  "GRAFT_EXEC",
  new URL("../../exec/build/graft-exec", import.meta.url),
);
