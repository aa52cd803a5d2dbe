/**
 * The helper files graft hands to the programs it launches, libgraft.so and
 * graft-exec, and the broker's own libgraft-native.so, and where they are found: the path an environment variable
 * names, then the copy a compiled graft carries (written out only when a
 * command first asks for the path), then the build beside this checkout's cli/.
 *
 * @module
 */

import { GraftError } from "../model/errors.ts";
import { NATIVE_ENV, NATIVE_NAME } from "../sys/native.ts";
import { compiledIn, type EmbeddedFile, extractDir, extractFile } from "./embedded.ts";

/** Where a helper file was found without writing anything out. */
export type HelperLocation =
  | { path: string; embedded?: undefined }
  | { path?: undefined; embedded: Uint8Array<ArrayBuffer> };

/** One helper file and the places it is looked for, in order. */
export class HelperFile {
  #extracted: string | null | undefined; // undefined: not tried yet; null: nothing compiled in

  /** Reads the compiled-in copy (tests give their own). */
  source: (url: URL) => Uint8Array<ArrayBuffer> | undefined = compiledIn;
  /** Where the compiled-in copy is written out (tests give their own). */
  dir: () => string = () => extractDir();

  /**
   * @param name the file's name in messages ("libgraft.so")
   * @param envVar the variable that names its path ("GRAFT_PRELOAD")
   * @param beside its build in this checkout, which is also where a compiled
   *   graft carries it (`deno compile --include`)
   * @param embedded how the extracted copy of a compiled-in one is named
   */
  constructor(
    readonly name: string,
    readonly envVar: string,
    readonly beside: URL,
    readonly embedded?: EmbeddedFile,
  ) {}

  /** The compiled-in copy's path, written out on the first call; undefined where there is none. */
  #extract(): string | undefined {
    if (this.#extracted === undefined) {
      const bytes = this.embedded && this.source(this.beside);
      this.#extracted = bytes ? extractFile(bytes, this.embedded!, this.dir()) : null;
    }
    return this.#extracted ?? undefined;
  }

  /**
   * The first of the places that holds a regular file, extracting the
   * compiled-in copy if it comes to that; a GraftError saying how to get one.
   */
  path(): string {
    const fromEnv = Deno.env.get(this.envVar);
    if (isFile(fromEnv)) return fromEnv!;
    const extracted = this.#extract();
    if (isFile(extracted)) return extracted!;
    if (this.beside.protocol === "file:" && isFile(this.beside.pathname)) {
      return this.beside.pathname;
    }
    throw new GraftError(
      `${this.name} not found: run ./scripts/setup to build it, or set ${this.envVar} to its path`,
    );
  }

  /**
   * Like {@link path}, but writes nothing out: a compiled-in copy is
   * returned as its bytes. undefined where there is none.
   */
  locate(): HelperLocation | undefined {
    const fromEnv = Deno.env.get(this.envVar);
    if (isFile(fromEnv)) return { path: fromEnv! };
    if (this.#extracted) return { path: this.#extracted };
    const bytes = this.embedded && this.source(this.beside);
    if (bytes) return { embedded: bytes };
    if (this.beside.protocol === "file:" && isFile(this.beside.pathname)) {
      return { path: this.beside.pathname };
    }
    return undefined;
  }
}

function isFile(p: string | undefined): boolean {
  try {
    return p !== undefined && p !== "" && Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** libgraft.so, the preload library `graft run` puts in LD_PRELOAD. */
export const LIBGRAFT = new HelperFile(
  "libgraft.so",
  "GRAFT_PRELOAD",
  new URL("../../preload/build/libgraft.so", import.meta.url),
  { prefix: "libgraft-", suffix: ".so", mode: 0o644 },
);

/** graft-exec, which starts a program under the seccomp engine. */
export const GRAFT_EXEC = new HelperFile(
  "graft-exec",
  "GRAFT_EXEC",
  new URL("../../exec/build/graft-exec", import.meta.url),
  { prefix: "graft-exec-", suffix: "", mode: 0o755 },
);

/** libgraft-native.so, the broker's socket factory (cli/sys/native.ts loads it). */
export const NATIVE = new HelperFile(
  NATIVE_NAME,
  NATIVE_ENV,
  new URL("../../native/build/libgraft-native.so", import.meta.url),
  { prefix: "libgraft-native-", suffix: ".so", mode: 0o644 },
);
