/**
 * The compiled `graft` binary carries libgraft.so inside it. The dynamic
 * loader needs a real file, so the library is written out once to a private,
 * content-addressed path: a directory owned by the user and writable by
 * nobody else, a file named after its SHA-256, created under a temporary
 * name and renamed into place (two runs starting at once both end with the
 * same complete file).
 *
 * @module
 */

import { GraftError } from "../model/errors.ts";

/**
 * Where an extracted library goes: /var/cache/graft/lib for root (not under
 * /run/graft, which is shared with containers), else $XDG_RUNTIME_DIR or
 * ~/.cache; never a directory every user can write to, such as /tmp.
 */
export function extractDir(env = Deno.env.toObject(), uid = Deno.uid()): string {
  if (uid === 0) return "/var/cache/graft/lib";
  const base = env.XDG_RUNTIME_DIR || (env.HOME ? `${env.HOME}/.cache` : undefined);
  if (!base) {
    throw new GraftError(
      "cannot extract libgraft.so: neither XDG_RUNTIME_DIR nor HOME is set " +
        "(graft does not fall back to /tmp); set one, or set GRAFT_PRELOAD",
    );
  }
  return `${base}/graft/lib`;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
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
    throw new GraftError(`refusing to use ${dir} for libgraft.so: ${why}`);
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

/**
 * Write `bytes` to `<dir>/libgraft-<sha256>.so` unless an identical file is
 * already there; returns the path.
 */
export function extractLibrary(
  bytes: Uint8Array<ArrayBuffer>,
  dir = extractDir(),
): Promise<string> {
  return extractFile(bytes, dir, "libgraft-", ".so", 0o644);
}

/**
 * Write `bytes` to `<dir>/<prefix><sha256><suffix>` with `mode` unless an
 * identical file is already there; returns the path.
 */
async function extractFile(
  bytes: Uint8Array<ArrayBuffer>,
  dir: string,
  prefix: string,
  suffix: string,
  mode: number,
): Promise<string> {
  const hash = await sha256(bytes);
  privateDir(dir);
  const path = `${dir}/${prefix}${hash.slice(0, 32)}${suffix}`;
  try {
    const existing = await Deno.readFile(path);
    if ((await sha256(existing)) === hash) return path;
  } catch { /* not there yet */ }
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID()}`;
  try {
    await Deno.writeFile(tmp, bytes, { mode, createNew: true });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new GraftError(`cannot write ${path}: ${(e as Error).message}`);
  }
  return path;
}

/** In a `deno compile`d graft, extract the embedded library; elsewhere undefined. */
export async function embeddedPreload(): Promise<string | undefined> {
  if (!Deno.build.standalone) return undefined;
  const url = new URL("../../preload/build/libgraft.so", import.meta.url);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(url);
  } catch {
    return undefined;
  }
  return await extractLibrary(bytes);
}

/** Write the graft-exec helper to `<dir>/graft-exec-<sha256>` (executable); returns the path. */
export function extractExec(bytes: Uint8Array<ArrayBuffer>, dir = extractDir()): Promise<string> {
  return extractFile(bytes, dir, "graft-exec-", "", 0o755);
}

/** In a `deno compile`d graft, extract the embedded graft-exec; elsewhere undefined. */
export async function embeddedExec(): Promise<string | undefined> {
  if (!Deno.build.standalone) return undefined;
  try {
    return await extractExec(
      await Deno.readFile(new URL("../../exec/build/graft-exec", import.meta.url)),
    );
  } catch {
    return undefined;
  }
}

/** The version tag compiled into a libgraft.so ("@(#)libgraft X.Y.Z"), if any. */
export function preloadVersion(bytes: Uint8Array): string | undefined {
  const text = new TextDecoder("latin1").decode(bytes);
  const m = /@\(#\)libgraft ([0-9A-Za-z.+-]+)/.exec(text);
  return m?.[1];
}
