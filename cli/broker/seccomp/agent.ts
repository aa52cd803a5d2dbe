/**
 * The seccomp agent socket: where a launcher (graft-exec) or an OCI runtime
 * (runc, crun: the runtime spec's `listenerPath`) hands the broker a seccomp
 * listener. The protocol is the runtime spec's: the client connects to a
 * SOCK_STREAM Unix socket, sends the container process state as JSON with
 * the listener attached (SCM_RIGHTS), and ends the stream. `metadata`
 * (`listenerMetadata` in config.json) carries graft's mappings. The broker
 * answers one line, "ok" or why it refused, which graft-exec waits for and a
 * runtime ignores.
 *
 * Only an administrator's listener is taken: the sender must be root with
 * CAP_NET_ADMIN in the initial user namespace, read from the process that
 * connected (its credentials and pidfd, taken by the kernel at connect
 * time), not from what it says (see {@link isAdministrator}).
 *
 * @module
 */

import { C, closeFd, libc } from "../../sys/ffi.ts";
import { Cap, hasCap, NO_CAPS, type PeerCaps, peerCaps } from "../../sys/peer.ts";
import { type PeerCred, peerCred, recvPacket, unixListen } from "../../sys/unix.ts";

/** Largest state document accepted (runc's is a few kilobytes). */
const STATE_MAX = 1 << 20;
/** A client that has not finished sending by then is dropped. */
const AGENT_TIMEOUT_MS = 5000;

/** A listener handed over, with what came with it. */
export interface Handover {
  /** The seccomp listener descriptor (now the caller's). */
  listener: number;
  /** The `metadata` string (mappings). */
  metadata: string;
  /** The process the runtime says the listener is for. */
  pid: number;
  /** A name for logs: the container id, or graft-exec's. */
  label: string;
}

interface Pending {
  fd: number;
  cred: PeerCred;
  /** Why the sender may not hand over a listener (checked on connection, while it runs). */
  denied: string | undefined;
  chunks: Uint8Array[];
  size: number;
  fds: number[];
  since: number;
}

/** Listen on `path` with a non-blocking SOCK_STREAM socket anyone may connect to. */
export function agentListen(path: string): number {
  try {
    if (Deno.lstatSync(path).isSocket) Deno.removeSync(path);
  } catch { /* not there */ }
  // Everyone may try; only administrators are served.
  return unixListen(path, C.SOCK_STREAM, 0o666, 64);
}

/**
 * Why the connected peer may not hand over a listener, or undefined when it
 * may: root (the uid the kernel recorded at connect) with CAP_NET_ADMIN in
 * the initial user namespace, read while it still runs ({@link senderCaps}).
 *
 * A runtime may already have exited (runc run -d sends, then exits at once):
 * then (`caps` undefined) the recorded uid 0 decides alone. That is enough: a
 * listener only reaches processes its sender filtered, and a sender without
 * CAP_SYS_ADMIN can filter only with no_new_privs, so none of them is more
 * privileged than the sender was.
 */
export function isAdministrator(cred: PeerCred, caps: PeerCaps | undefined): string | undefined {
  if (cred.uid !== 0) return `uid ${cred.uid} is not root`;
  if (caps === undefined) return undefined;
  if (caps === NO_CAPS) return "the sender's credentials changed since it connected";
  if (!caps.initUserns) return "the sender is in another user namespace";
  if (!hasCap(caps, Cap.NET_ADMIN)) return "the sender lacks CAP_NET_ADMIN";
  return undefined;
}

/**
 * The capabilities of the sender on `fd` (read through a pidfd, race-free:
 * {@link peerCaps}), or undefined when it has exited already.
 */
function senderCaps(fd: number, cred: PeerCred): PeerCaps | undefined {
  const caps = peerCaps(fd, cred.pid, cred.uid);
  if (caps !== NO_CAPS) return caps;
  try {
    Deno.statSync(`/proc/${cred.pid}`);
    return NO_CAPS; // still there: it changed credentials (or its PID was reused): refused
  } catch {
    return undefined;
  }
}

/** The agent socket's clients, read without blocking the broker. */
export class AgentSocket {
  readonly #pending = new Map<number, Pending>();
  #fd = -1;

  /** Listen on `path`. */
  constructor(readonly path: string) {
    this.#fd = agentListen(path);
  }

  /** Descriptors to poll: the listening socket and the clients still sending. */
  fds(): number[] {
    return this.#fd < 0 ? [] : [this.#fd, ...this.#pending.keys()];
  }

  /** Whether `fd` is one of ours. */
  owns(fd: number): boolean {
    return fd === this.#fd || this.#pending.has(fd);
  }

  /**
   * Serve a ready descriptor. `take` decides on each complete handover:
   * returns undefined to accept (the listener is then the caller's) or the
   * reason for refusing.
   */
  handle(fd: number, take: (h: Handover) => string | undefined, log: (l: string) => void): void {
    if (fd === this.#fd) return this.#acceptAll();
    const p = this.#pending.get(fd);
    if (!p) return;
    for (let i = 0; i < 16; i++) {
      let pkt;
      try {
        pkt = recvPacket(fd, 65536, C.MSG_DONTWAIT);
      } catch {
        return this.#drop(p);
      }
      if (pkt === undefined) return; // more to come
      if (pkt === null) return this.#finish(p, take, log);
      p.fds.push(...pkt.fds);
      p.chunks.push(pkt.data);
      p.size += pkt.data.length;
      if (p.size > STATE_MAX || p.fds.length > 8) {
        log(`seccomp agent: pid ${p.cred.pid}: message too large; dropped`);
        return this.#reply(p, "refused: message too large");
      }
    }
  }

  /** Drop clients that took too long. */
  expire(): void {
    const now = Date.now();
    for (const p of this.#pending.values()) {
      if (now - p.since > AGENT_TIMEOUT_MS) this.#drop(p);
    }
  }

  /** Close everything and remove the socket file. */
  close(): void {
    for (const p of [...this.#pending.values()]) this.#drop(p);
    closeFd(this.#fd);
    this.#fd = -1;
    try {
      Deno.removeSync(this.path);
    } catch { /* gone */ }
  }

  #acceptAll(): void {
    for (let i = 0; i < 16; i++) {
      const fd = libc().accept4(this.#fd, null, null, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
      if (fd < 0) return;
      if (this.#pending.size >= 64) {
        closeFd(fd);
        continue;
      }
      let cred: PeerCred;
      try {
        cred = peerCred(fd);
      } catch {
        closeFd(fd);
        continue;
      }
      // Judge the sender now, while it certainly runs: a runtime may exit
      // right after sending (runc run -d).
      const denied = isAdministrator(cred, senderCaps(fd, cred));
      this.#pending.set(fd, { fd, cred, denied, chunks: [], size: 0, fds: [], since: Date.now() });
    }
  }

  #finish(p: Pending, take: (h: Handover) => string | undefined, log: (l: string) => void): void {
    const who = `pid ${p.cred.pid} (uid ${p.cred.uid})`;
    const denied = p.denied;
    if (denied) {
      log(`seccomp agent: refused a listener from ${who}: ${denied}`);
      return this.#reply(p, `refused: only an administrator may hand over a listener (${denied})`);
    }
    const h = parseHandover(concat(p.chunks, p.size), p.fds);
    if (typeof h === "string") {
      log(`seccomp agent: bad handover from ${who}: ${h}`);
      return this.#reply(p, `refused: ${h}`);
    }
    const why = take(h);
    if (why) {
      log(`seccomp agent: refused ${h.label} from ${who}: ${why}`);
      return this.#reply(p, `refused: ${why}`);
    }
    p.fds.splice(p.fds.indexOf(h.listener), 1); // the caller's now
    this.#reply(p, "ok");
  }

  #reply(p: Pending, line: string): void {
    const b = new TextEncoder().encode(line + "\n");
    libc().send(p.fd, b, BigInt(b.length), C.MSG_DONTWAIT | C.MSG_NOSIGNAL);
    this.#drop(p);
  }

  #drop(p: Pending): void {
    for (const f of p.fds) closeFd(f);
    closeFd(p.fd);
    this.#pending.delete(p.fd);
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Check a container process state document and find the listener in `fds`. */
export function parseHandover(bytes: Uint8Array, fds: number[]): Handover | string {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "the state is not JSON";
  }
  if (typeof doc !== "object" || doc === null) return "the state is not a JSON object";
  const names = Array.isArray(doc.fds) ? doc.fds : [];
  const at = names.indexOf("seccompFd");
  if (at < 0 || names.length !== fds.length) {
    return `expected a "seccompFd" among ${fds.length} descriptor(s), got ${JSON.stringify(names)}`;
  }
  const listener = fds[at];
  let kind = "";
  try {
    kind = Deno.readLinkSync(`/proc/self/fd/${listener}`);
  } catch { /* checked below */ }
  if (kind !== "anon_inode:seccomp notify") {
    return `the descriptor is not a seccomp listener (${kind || "unknown"})`;
  }
  const state = (typeof doc.state === "object" && doc.state) as Record<string, unknown> | false;
  const pid = Number(doc.pid ?? (state ? state.pid : 0)) || 0;
  const id = state && typeof state.id === "string" ? state.id : `pid ${pid}`;
  const metadata = typeof doc.metadata === "string" ? doc.metadata : "";
  return { listener, metadata, pid, label: id };
}
