/**
 * The broker's persistent state: its endpoints, per client namespace, in a
 * JSON file written atomically on every change (temporary file, fsync,
 * rename, fsync of the directory), twice: the file and a copy beside it
 * (`.bak`, its own inode), so damage to one leaves the latest good state in
 * the other. Read back at start and on SIGHUP.
 *
 * A namespace outlives the broker only if something else holds it, and its
 * inode number means nothing after the broker's descriptor is gone (a new
 * namespace may reuse it). So each is saved with a way to find it again that
 * cannot pick up a different namespace:
 *
 *   host     the initial namespace (PID 1's)
 *   named    a bind mount /run/netns/NAME (`ip netns add NAME`)
 *   process  a process inside it, by PID and start time, in this boot
 *            (boot_id), and the namespace's device and inode
 *   none     nothing to find it by: it is dropped at the next start
 *
 * @module
 */

import { type Endpoint, endpointFromJson } from "../model/endpoint.ts";
import { printable } from "../model/errors.ts";
import { mapsFromJson, type NamespaceMaps } from "../model/nsmap.ts";
import { C, check, closeFd, libc, openFd } from "../sys/ffi.ts";
import {
  bootId,
  NETNS_RUN_DIR,
  netnsIdOfFd,
  netnsIdOfPath,
  netnsKey,
  openNetns,
  processStartTime,
} from "../sys/netns.ts";
import { scanHost } from "../sys/procscan.ts";

/** The state file format version. */
export const STATE_VERSION = 1;

/** How a namespace is found again after a restart. */
export type NsRef =
  | { kind: "host" }
  | { kind: "named"; name: string }
  | { kind: "process"; pid: number; start: number; boot: string; dev: number; ino: number }
  | { kind: "none"; dev: number; ino: number };

/** An endpoint and, when it has one, its own target namespace. */
export interface SavedEndpoint {
  /** The endpoint as defined. */
  endpoint: Endpoint;
  /** Its target namespace; absent for the broker's default target. */
  target?: NsRef;
}

/** A client namespace and its endpoints. */
export interface SavedNamespace {
  /** How to find the namespace. */
  ns: NsRef;
  /** Its endpoints. */
  endpoints: SavedEndpoint[];
  /** Its default mappings (`graft map`), when it has any. */
  maps?: NamespaceMaps;
}

/** The whole file. */
export interface State {
  /** {@link STATE_VERSION}. */
  version: number;
  /** The namespaces with endpoints. */
  namespaces: SavedNamespace[];
}

/** A state file that cannot be used, and why (one line). */
export class StateError extends Error {
  /** `why` says what is wrong, in one line. */
  constructor(why: string) {
    super(why);
    this.name = "StateError";
  }
}

function nsRef(v: unknown, where: string): NsRef {
  const r = v as Record<string, unknown>;
  const num = (k: string) => {
    if (!Number.isInteger(r[k])) throw new StateError(`${where}: "${k}" is not an integer`);
    return r[k] as number;
  };
  if (!r || typeof r !== "object") throw new StateError(`${where}: not an object`);
  switch (r.kind) {
    case "host":
      return { kind: "host" };
    case "named":
      if (typeof r.name !== "string" || !/^[^/\0]+$/.test(r.name) || r.name.startsWith(".")) {
        throw new StateError(`${where}: bad namespace name`);
      }
      return { kind: "named", name: r.name };
    case "process":
      if (typeof r.boot !== "string") throw new StateError(`${where}: "boot" is not a string`);
      return {
        kind: "process",
        pid: num("pid"),
        start: num("start"),
        boot: r.boot,
        dev: num("dev"),
        ino: num("ino"),
      };
    case "none":
      return { kind: "none", dev: num("dev"), ino: num("ino") };
    default:
      throw new StateError(`${where}: unknown namespace kind ${JSON.stringify(r.kind)}`);
  }
}

/** Parse and check a state file's text; throws a {@link StateError} saying what is wrong. */
export function parseState(text: string): State {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch (e) {
    // The parser quotes the text: keep a damaged file's bytes out of the log line.
    const why = printable((e as Error).message);
    throw new StateError(`not JSON (${why})`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new StateError("not a JSON object");
  if (v.version !== STATE_VERSION) {
    throw new StateError(`version ${JSON.stringify(v.version)}, expected ${STATE_VERSION}`);
  }
  if (!Array.isArray(v.namespaces)) throw new StateError(`"namespaces" is not a list`);
  const namespaces = v.namespaces.map((n: Record<string, unknown>, i: number) => {
    const where = `namespaces[${i}]`;
    if (!n || !Array.isArray(n.endpoints)) throw new StateError(`${where}: no "endpoints" list`);
    const endpoints = n.endpoints.map((e: Record<string, unknown>, j: number) => {
      let endpoint: Endpoint;
      try {
        endpoint = endpointFromJson(e?.endpoint);
      } catch (err) {
        throw new StateError(`${where}.endpoints[${j}]: ${(err as Error).message}`);
      }
      const target = e.target === undefined
        ? undefined
        : nsRef(e.target, `${where}.endpoints[${j}].target`);
      return target ? { endpoint, target } : { endpoint };
    });
    let maps: NamespaceMaps | undefined;
    try {
      maps = n.maps === undefined ? undefined : mapsFromJson(n.maps);
    } catch (err) {
      throw new StateError(`${where}.maps: ${(err as Error).message}`);
    }
    return { ns: nsRef(n.ns, `${where}.ns`), endpoints, ...(maps ? { maps } : {}) };
  });
  return { version: STATE_VERSION, namespaces };
}

/** A state file's text. */
export function formatState(state: State): string {
  return JSON.stringify(state, null, 1) + "\n";
}

// ---- identifying namespaces ------------------------------------------------

/** Finds the {@link NsRef} of namespaces, scanning /proc at most once per call site. */
export class Identifier {
  #scan?: ReturnType<typeof scanHost>;
  /** PID 1's namespace; the broker's own where PID 1 cannot be read (as its default target). */
  readonly #hostKey = keyOfPath("/proc/1/ns/net") ?? keyOfPath("/proc/self/ns/net");
  readonly #boot = bootId();

  /** Is a saved reference still right for the namespace `key` (its `dev:ino`)? (Cheap: no scan.) */
  stillValid(ref: NsRef, key: string): boolean {
    switch (ref.kind) {
      case "host":
        return key === this.#hostKey;
      case "named":
        return keyOfPath(`${NETNS_RUN_DIR}/${ref.name}`) === key;
      case "process":
        return processStartTime(ref.pid) === ref.start &&
          keyOfPath(`/proc/${ref.pid}/ns/net`) === key;
      case "none":
        return false;
    }
  }

  /** The best way to find namespace `key` (its `dev:ino`) again: host, a name, a process, or none. */
  identify(key: string): NsRef {
    if (key === this.#hostKey) return { kind: "host" };
    const [dev, ino] = key.split(":").map(Number);
    this.#scan ??= scanHost({ sockets: false, descriptors: false });
    const found = this.#scan.namespaces.get(ino);
    for (const name of found?.names ?? []) {
      if (!name.includes("/") && keyOfPath(`${NETNS_RUN_DIR}/${name}`) === key) {
        return { kind: "named", name };
      }
    }
    for (const p of found?.processes ?? []) {
      if (p.pid === Deno.pid) continue; // the broker itself will not be there after a restart
      const start = processStartTime(p.pid);
      if (start !== undefined && keyOfPath(`/proc/${p.pid}/ns/net`) === key) {
        return { kind: "process", pid: p.pid, start, boot: this.#boot, dev, ino };
      }
    }
    return { kind: "none", dev, ino };
  }
}

function keyOfPath(path: string): string | undefined {
  const id = netnsIdOfPath(path);
  return id && netnsKey(id);
}

/**
 * Open the namespace a reference names, or say why it cannot be (one line).
 * `held` gives a descriptor the broker still holds for a `dev:ino` (on SIGHUP), so
 * a namespace only the broker keeps alive is not lost by a reload.
 */
export function openRef(
  ref: NsRef,
  held: (key: string) => number | undefined = () => undefined,
): number | string {
  if (ref.kind === "process" || ref.kind === "none") {
    const fd = held(`${ref.dev}:${ref.ino}`);
    if (fd !== undefined) return openFd(`/proc/self/fd/${fd}`);
  }
  switch (ref.kind) {
    case "host":
      try {
        return openFd("/proc/1/ns/net");
      } catch {
        return openFd("/proc/self/ns/net");
      }
    case "named":
      try {
        return openNetns(ref.name);
      } catch (e) {
        return (e as Error).message;
      }
    case "process":
      return openProcessRef(ref);
    case "none":
      return `namespace ${ref.ino} had no name and no process to find it by`;
  }
}

function openProcessRef(ref: Extract<NsRef, { kind: "process" }>): number | string {
  const what = `namespace ${ref.ino} (process ${ref.pid})`;
  if (ref.boot !== bootId()) return `${what} was saved before a reboot`;
  if (processStartTime(ref.pid) !== ref.start) return `${what} is gone: the process exited`;
  let fd: number;
  try {
    fd = openFd(`/proc/${ref.pid}/ns/net`);
  } catch {
    return `${what} is gone: the process exited`;
  }
  const id = netnsIdOfFd(fd);
  if (id.dev !== ref.dev || id.ino !== ref.ino) {
    closeFd(fd);
    return `${what}: the process is now in another namespace`;
  }
  return fd;
}

/** A short name for a reference in log lines. */
export function describeRef(ref: NsRef): string {
  switch (ref.kind) {
    case "host":
      return "host";
    case "named":
      return ref.name;
    case "process":
      return `pid:${ref.pid} (ns ${ref.ino})`;
    case "none":
      return `ns:${ref.ino}`;
  }
}

// ---- the file ----------------------------------------------------------------

/** What `graft status` says about the state file. */
export interface StateHealth {
  /** The file. */
  path: string;
  /** True while the last write (or the load) succeeded. */
  ok: boolean;
  /** When the file was last written (ms since the epoch). */
  savedAt?: number;
  /** Endpoints in the last file written. */
  endpoints: number;
  /** The last failure, in one line. */
  error?: string;
  /** Where a corrupt file was kept aside. */
  corruptKeptAs?: string;
}

/** What reading the file found: a state (maybe empty), and what to report. */
export interface Loaded {
  /** The state to serve. */
  state: State;
  /** Where it came from: the file, its `.bak` copy, or nothing. */
  from: "file" | "bak" | "none";
  /** One line for the log when the file was unusable. */
  problem?: string;
}

const EMPTY: State = { version: STATE_VERSION, namespaces: [] };

/** Read a state file without changing anything (what `graft daemon --check` does). */
export function readState(path: string): State | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new StateError(`cannot read: ${(e as Error).message}`);
  }
  return parseState(text);
}

/** The state file: atomic writes, and a load that never loses a good state. */
export class StateFile {
  readonly health: StateHealth;

  /** The file at `path` (its directory is made on the first write). */
  constructor(readonly path: string) {
    this.health = { path, ok: true, endpoints: 0 };
  }

  get #bak(): string {
    return `${this.path}.bak`;
  }

  /**
   * Read the file. A corrupt one is renamed to `.corrupt-TIMESTAMP` and its
   * copy (`.bak`) used instead, if that one is good (on a `reload` the
   * caller keeps what it holds, and the message says so).
   */
  load(reload = false): Loaded {
    try {
      const state = readState(this.path);
      return state ? { state, from: "file" } : { state: EMPTY, from: "none" };
    } catch (e) {
      const why = (e as Error).message;
      const kept = this.#keepAside();
      this.health.corruptKeptAs = kept;
      let bak: State | undefined;
      try {
        bak = readState(this.#bak);
      } catch { /* no usable copy either */ }
      const aside = kept ? `kept as ${kept}` : "left in place";
      const then = reload
        ? "keeping the endpoints held now"
        : bak
        ? `using its copy ${this.#bak}`
        : "starting empty";
      return {
        state: bak ?? EMPTY,
        from: bak ? "bak" : "none",
        problem: `state file ${this.path} is unusable (${why}); ${aside}; ${then}`,
      };
    }
  }

  #keepAside(): string | undefined {
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const to = `${this.path}.corrupt-${stamp}`;
    try {
      Deno.renameSync(this.path, to);
      return to;
    } catch {
      return undefined;
    }
  }

  /**
   * Write `state` atomically, to the file and to its copy. Returns
   * undefined, or the failure in one line (also kept in {@link health}); a
   * file not yet replaced is untouched.
   */
  save(state: State): string | undefined {
    const dir = this.path.replace(/\/[^/]*$/, "") || "/";
    const bytes = new TextEncoder().encode(formatState(state));
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeAtomic(this.path, bytes, true);
      writeAtomic(this.#bak, bytes, false); // the copy is for damage, not power loss
      syncDir(dir);
    } catch (e) {
      const msg = `cannot write ${this.path}: ${(e as Error).message}`;
      Object.assign(this.health, { ok: false, error: msg });
      return msg;
    }
    const endpoints = state.namespaces.reduce((n, ns) => n + ns.endpoints.length, 0);
    Object.assign(this.health, { ok: true, error: undefined, savedAt: Date.now(), endpoints });
    return undefined;
  }
}

/** Write `bytes` to a temporary file, fsync it (when `sync`), and rename it over `path`. */
function writeAtomic(path: string, bytes: Uint8Array, sync: boolean): void {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
      if (sync) f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never made */ }
    throw e;
  }
}

function syncDir(dir: string): void {
  const fd = openFd(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    check("fsync", libc().fsync(fd), dir);
  } finally {
    closeFd(fd);
  }
}
