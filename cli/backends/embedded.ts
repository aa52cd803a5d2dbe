/**
 * The compiled `graft` binary carries its helper files (libgraft.so,
 * graft-exec, libgraft-native.so) inside it. The dynamic loader and execve() need real files, so
 * a helper is written out, when a command first needs it, to a private,
 * content-addressed path: a directory owned by the user and writable by
 * nobody else, a file named after its SHA-256, created under a temporary
 * name and renamed into place (two runs starting at once both end with the
 * same complete file).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { GraftError } from "../model/errors.ts";

/**
 * Where extracted helper files go: /var/cache/graft/lib for root (not under
 * /run/graft, which is shared with containers), else $XDG_RUNTIME_DIR or
 * ~/.cache; never a directory every user can write to, such as /tmp.
 */
export function extractDir(env = Deno.env.toObject(), uid = Deno.uid()): string {
  if (uid === 0) return "/var/cache/graft/lib";
  const base = env.XDG_RUNTIME_DIR || (env.HOME ? `${env.HOME}/.cache` : undefined);
  if (!base) {
    throw new GraftError(
      "cannot extract graft's helper files: neither XDG_RUNTIME_DIR nor HOME is set " +
        "(graft does not fall back to /tmp); set one, or GRAFT_PRELOAD/GRAFT_EXEC",
    );
  }
  return `${base}/graft/lib`;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Make `dir` (and parents), then insist that nobody else could swap it: it is
 * ours and writable by nobody else, and every directory above it belongs to
 * root or to us and is writable by nobody else (or sticky, like /tmp, where
 * others cannot rename what is ours).
 */
function privateDir(dir: string): void {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const uid = Deno.uid();
  const refuse = (why: string): never => {
    throw new GraftError(`refusing to use ${dir} for graft's helper files: ${why}`);
  };
  const real = Deno.realPathSync(dir);
  const parts = real.split("/").filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const p = "/" + parts.slice(0, i).join("/");
    const st = Deno.statSync(p);
    const mode = st.mode ?? 0;
    if (i === parts.length) {
      if (st.uid !== uid || (mode & 0o022) !== 0) {
        refuse(`it must be owned by uid ${uid} and writable by nobody else`);
      }
    } else if (st.uid !== 0 && st.uid !== uid) {
      refuse(`${p} belongs to uid ${st.uid}`);
    } else if ((mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
      refuse(`${p} is writable by others`);
    }
  }
}

/** How the extracted copy of a file compiled into the graft binary is named. */
export interface EmbeddedFile {
  /** The extracted file's name before its hash ("libgraft-"). */
  prefix: string;
  /** ... and after it (".so"). */
  suffix: string;
  /** Its permission bits (0o755 for a program). */
  mode: number;
}

/** The compiled-in bytes at `url`; undefined outside a compiled graft or where it was not included. */
export function compiledIn(url: URL): Uint8Array<ArrayBuffer> | undefined {
  if (!Deno.build.standalone) return undefined;
  try {
    return Deno.readFileSync(url);
  } catch {
    return undefined;
  }
}

/**
 * Write `bytes` to `<dir>/<prefix><sha256><suffix>` with the file's mode
 * unless an identical file is already there; returns the path.
 */
export function extractFile(
  bytes: Uint8Array<ArrayBuffer>,
  file: EmbeddedFile,
  dir = extractDir(),
): string {
  const hash = sha256(bytes);
  privateDir(dir);
  const path = `${dir}/${file.prefix}${hash.slice(0, 32)}${file.suffix}`;
  try {
    if (sha256(Deno.readFileSync(path)) === hash) return path;
  } catch { /* not there yet */ }
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID()}`;
  try {
    Deno.writeFileSync(tmp, bytes, { mode: file.mode, createNew: true });
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never made */ }
    throw new GraftError(`cannot write ${path}: ${(e as Error).message}`);
  }
  return path;
}

/** The version tag compiled into a libgraft.so ("@(#)libgraft X.Y.Z"), if any. */
export function preloadVersion(bytes: Uint8Array): string | undefined {
  const text = new TextDecoder("latin1").decode(bytes);
  const m = /@\(#\)libgraft ([0-9A-Za-z.+-]+)/.exec(text);
  return m?.[1];
}
