/**
 * Attaching graft to a container's network namespace and detaching it again:
 * the part the OCI hook and the CNI plugin share. An attachment is a set of
 * endpoints and default mappings defined in one namespace; it is recorded in
 * a root-only directory so that removal (poststop, CNI DEL, CNI GC) deletes
 * exactly what was added, also when the namespace is already gone.
 *
 * @module
 */

import {
  addEndpoint,
  addMapping,
  deleteEndpoint,
  deleteMapping,
  listEndpoints,
  listMappings,
} from "../api/endpoints.ts";
import type { BackendChoice } from "../backends/backend.ts";
import { brokerGc } from "../broker/client.ts";
import { type Endpoint, formatEndpoint } from "../model/endpoint.ts";
import { GraftError } from "../model/errors.ts";
import type { MapKind } from "../model/nsmap.ts";
import { closeFd } from "../sys/ffi.ts";
import { netnsIdOfPath, openNetns } from "../sys/netns.ts";

/** What to attach to a namespace. */
export interface AttachSpec {
  /** Who the attachment belongs to: "oci-<container id>" or "cni-<container id>-<ifname>". */
  owner: string;
  /** The namespace: a path (/proc/PID/ns/net, /var/run/netns/NAME) or a name. */
  netns: string;
  /** Endpoints to define in it. */
  endpoints: Endpoint[];
  /** Default ingress mappings (canonical or not). */
  ingress: string[];
  /** Default egress mappings. */
  egress: string[];
  /** Backend (default auto). */
  backend?: BackendChoice;
}

/** What was attached: enough to remove it. */
export interface Attachment extends AttachSpec {
  /** The namespace's inode when attached: a later path must lead to the same namespace. */
  netnsIno: number;
}

/** Where attachments are recorded (root only; never the directory shared with containers). */
export function attachmentDir(): string {
  return Deno.env.get("GRAFT_ATTACH_DIR") ?? "/run/graft-attach";
}

function recordPath(owner: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$/.test(owner)) {
    throw new GraftError(`bad container id "${owner}" (letters, digits, _ . - only)`);
  }
  return `${attachmentDir()}/${owner}.json`;
}

/** The recorded attachment of `owner`, or undefined. */
export function readAttachment(owner: string): Attachment | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(recordPath(owner))) as Attachment;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new GraftError(`cannot read the record of ${owner}: ${(e as Error).message}`);
  }
}

/** Every recorded attachment. */
export function listAttachments(): Attachment[] {
  const out: Attachment[] = [];
  try {
    for (const e of Deno.readDirSync(attachmentDir())) {
      if (!e.name.endsWith(".json")) continue;
      const a = readAttachment(e.name.slice(0, -5));
      if (a) out.push(a);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

function writeRecord(a: Attachment): void {
  Deno.mkdirSync(attachmentDir(), { recursive: true, mode: 0o700 });
  const path = recordPath(a.owner);
  const tmp = `${path}.tmp-${Deno.pid}`;
  Deno.writeTextFileSync(tmp, JSON.stringify(a, null, 2) + "\n", { mode: 0o600 });
  Deno.renameSync(tmp, path);
}

function namespaceIno(netns: string): number {
  const fd = openNetns(netns);
  try {
    return netnsIdOfPath(`/proc/self/fd/${fd}`)!.ino;
  } finally {
    closeFd(fd);
  }
}

/**
 * Define `spec`'s endpoints and mappings in its namespace and record them.
 * All or nothing: on a failure what was added is removed again and the
 * error is thrown.
 */
export function attach(spec: AttachSpec): Attachment {
  const where = { netns: spec.netns, backend: spec.backend };
  const done: (() => void)[] = [];
  try {
    const a: Attachment = { ...spec, netnsIno: namespaceIno(spec.netns), ingress: [], egress: [] };
    for (const ep of spec.endpoints) {
      addEndpoint(ep, where);
      done.push(() => deleteEndpoint(ep.name, where));
    }
    const maps: [MapKind, string[]][] = [["ingress", spec.ingress], ["egress", spec.egress]];
    for (const [kind, list] of maps) {
      for (const text of list) {
        const canon = addMapping(kind, text, where);
        a[kind].push(canon);
        done.push(() => deleteMapping(kind, canon, where));
      }
    }
    writeRecord(a);
    return a;
  } catch (e) {
    for (const undo of done.reverse()) {
      try {
        undo();
      } catch { /* best effort: the error that matters is the first one */ }
    }
    throw e;
  }
}

/** The namespace of `a` when it still exists at its path and is the one attached to. */
function sameNamespace(a: Attachment): boolean {
  try {
    return namespaceIno(a.netns) === a.netnsIno;
  } catch {
    return false;
  }
}

/**
 * Remove an attachment: delete its endpoints and mappings when its namespace
 * still exists, otherwise let the broker forget the dead namespace now.
 * Idempotent: an owner with no record is not an error.
 */
export function detach(owner: string): void {
  const a = readAttachment(owner);
  if (!a) return;
  if (sameNamespace(a)) {
    const where = { netns: a.netns, backend: a.backend };
    for (const text of a.egress) ignoreGone(() => deleteMapping("egress", text, where));
    for (const text of a.ingress) ignoreGone(() => deleteMapping("ingress", text, where));
    for (const ep of a.endpoints) ignoreGone(() => deleteEndpoint(ep.name, where));
  } else if (a.backend !== "kernel") {
    // The namespace is gone (af_graft.ko forgot it with the namespace); the broker
    // forgets a dead namespace on its next scan: ask for that scan now.
    ignoreGone(() => brokerGc());
  }
  Deno.removeSync(recordPath(owner));
}

function ignoreGone(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof GraftError && /no endpoint|no mapping|not running/.test(e.message)) return;
    throw e;
  }
}

/** Why `a` is not (fully) in place, or undefined when every endpoint and mapping is there. */
export function checkAttachment(a: Attachment): string | undefined {
  if (!sameNamespace(a)) return `network namespace ${a.netns} is gone`;
  const where = { netns: a.netns, backend: a.backend };
  const have = new Map(listEndpoints(where).map((e) => [e.name, formatEndpoint(e)]));
  for (const ep of a.endpoints) {
    if (!have.has(ep.name)) return `endpoint ${ep.name} is missing`;
  }
  if (a.ingress.length + a.egress.length === 0) return undefined;
  const maps = listMappings(where);
  for (const kind of ["ingress", "egress"] as const) {
    for (const text of a[kind]) {
      if (!maps[kind].includes(text)) return `${kind} mapping ${text} is missing`;
    }
  }
  return undefined;
}
