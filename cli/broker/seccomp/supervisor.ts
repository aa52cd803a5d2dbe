/**
 * The seccomp supervisor: the broker's conversion engine for programs
 * LD_PRELOAD cannot reach (static, Go, set-id). A filter in the program
 * (installed by graft-exec, or by an OCI runtime) traps bind, connect,
 * sendto with an address, sendmsg and sendmmsg; each trapped call arrives
 * here as a notification on the listener the broker was handed.
 *
 * Per notification:
 * 1. read the socket address from the caller's memory (process_vm_readv),
 *    then check the notification is still pending (SECCOMP_IOCTL_NOTIF_ID_VALID):
 *    the PID might have been reused by then;
 * 2. match it against the listener's mappings; no match: let the call
 *    continue untouched (SECCOMP_USER_NOTIF_FLAG_CONTINUE);
 * 3. take a copy of the caller's socket (pidfd_getfd) to learn its family,
 *    type, options, state and the network namespace it lives in (SIOCGSKNS):
 *    that namespace, not the caller's PID, decides which endpoints apply;
 * 4. have the broker create and bind the host socket in the endpoint's
 *    target namespace, exactly as for libgraft, with the caller's options;
 * 5. check the notification again and put the host socket on the caller's
 *    descriptor number (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD), keeping its
 *    O_NONBLOCK and close-on-exec;
 * 6. answer: bind returns 0 (the socket is bound already); connect, sendto
 *    and sendmsg continue, so the kernel runs the program's own call on the
 *    new socket with the program's own blocking semantics (EINPROGRESS,
 *    then poll/epoll, for a non-blocking connect).
 *
 * Continuing after a swap re-reads the destination, so a thread racing to
 * change it connects the grafted socket elsewhere: harmless, as the
 * endpoint grants a host socket bound to its address, not a destination
 * (a libgraft client could do the same). Nothing security-relevant is decided
 * on memory read after the check.
 *
 * Every step is a short system call on the broker's thread; nothing waits
 * for the network, so one slow or dead target cannot hold up the others.
 *
 * @module
 */

import { C, closeFd, Errno } from "../../sys/ffi.ts";
import type { EgressMapping, IngressMapping } from "../../model/mapping.ts";
import { socketNetnsCookie } from "../../sys/peer.ts";
import { getIntOpt, getOpt, pollNow } from "../../sys/unix.ts";
import type { SockOpt, SockRequest } from "../proto.ts";
import {
  isNonblocking,
  notifAddFd,
  type Notification,
  notifIdValid,
  notifRecv,
  notifRespond,
  NR,
  pidfdGetfd,
  pidfdOpen,
  readMemory,
  SECCOMP,
  setNonblocking,
  socketKind,
  sockName,
} from "../../sys/seccomp.ts";
import { type InetAddr, isWildcard, matchEgress, matchIngress, parseInet } from "./match.ts";
import { Acceptor, inodeOf } from "./acceptor.ts";
import { type Answer, CONTINUE } from "./answer.ts";
import {
  answerPeerName,
  answerSockName,
  NameBook,
  type NamedListener,
  type NameView,
} from "./names.ts";
import { socketDefaults } from "./options.ts";

/** What the supervisor needs from the broker. */
export interface SeccompHost {
  /** Whether the namespace with this key has endpoints at all. */
  hasEndpoints(nsKey: string): boolean;
  /** The namespace's default mappings (`graft map`): used by listeners that brought none. */
  mapsOf(nsKey: string): { ingress: IngressMapping[]; egress: EgressMapping[] };
  /** Create, configure and bind the host socket for endpoint `req.ep` of namespace `nsKey`. */
  graft(nsKey: string, req: GraftRequest, pid: number): { fd: number };
  /** A line for the log (always). */
  log(line: string): void;
  /** A per-call line, built only when verbose. */
  trace(line: () => string): void;
}

/** A socket request as libgraft sends it, without the wire header. */
export type GraftRequest = Omit<SockRequest, "hdr">;

/** A listener the broker supervises. */
interface Listener extends NamedListener {
  label: string;
  ingress: IngressMapping[];
  egress: EgressMapping[];
}
/** Calls about a socket's names: answered with the program's view when it differs. */
const NAME_CALLS: ReadonlySet<number> = new Set([
  NR.getsockname,
  NR.getpeername,
  NR.accept,
  NR.accept4,
]);
/** Most notifications served per listener per wake-up: one busy program cannot starve others. */
const BATCH = 16;
/** Sockets remembered as bound to a wildcard port 0 (still egress candidates). */
const ANY_BOUND_MAX = 4096;

/** Counters, for `graft status` and tests. */
export interface SeccompStats {
  /** Listeners accepted so far. */
  listeners: number;
  /** Calls converted (a host socket swapped in). */
  grafted: number;
  /** Calls let through untouched. */
  continued: number;
  /** Calls answered with an error (the broker refused the endpoint). */
  refused: number;
  /** Notifications whose caller went away before the answer. */
  gone: number;
  /** Addresses shown as the program's view (getsockname, getpeername). */
  named: number;
}

/** Supervises seccomp listeners on behalf of the broker. */
export class SeccompSupervisor {
  readonly #listeners = new Map<number, Listener>();
  readonly #anyBound = new Set<string>();
  /** Counters. */
  readonly stats: SeccompStats = {
    listeners: 0,
    grafted: 0,
    continued: 0,
    refused: 0,
    gone: 0,
    named: 0,
  };
  readonly #acceptor = new Acceptor(this.stats);

  /** A supervisor acting through `host`. */
  constructor(readonly host: SeccompHost) {}

  /**
   * Start supervising a listener (the supervisor owns `fd` from now on);
   * `namesHost`: getsockname() shows the host's view (`--names host`).
   */
  add(
    fd: number,
    label: string,
    ingress: IngressMapping[],
    egress: EgressMapping[],
    namesHost = false,
  ): void {
    setNonblocking(fd); // kernels that honour it never block in RECV
    this.#listeners.set(fd, { fd, label, ingress, egress, names: new NameBook(), namesHost });
    this.stats.listeners++;
    this.host.trace(() =>
      `seccomp: supervising ${label} (${ingress.length} ingress, ${egress.length} egress mappings)`
    );
  }

  /** The listeners to poll, and sockets with a blocking accept() parked. */
  fds(): number[] {
    return [...this.#listeners.keys(), ...this.#acceptor.fds()];
  }

  /** Number of listeners being supervised. */
  get size(): number {
    return this.#listeners.size;
  }

  /** Serve a ready listener; returns false when `fd` is not one. */
  handle(fd: number, revents: number): boolean {
    const l = this.#listeners.get(fd);
    if (!l) return this.#acceptor.handle(fd);
    if (revents & C.POLLIN) {
      for (let i = 0; i < BATCH; i++) {
        // RECV blocks when nothing is pending (a caller interrupted since
        // poll() said otherwise): ask again, without waiting, every time.
        if (i > 0 && pollNow([fd], 0).length === 0) break;
        const n = notifRecv(fd);
        if (!n) break;
        this.#serve(l, n);
      }
    } else if (revents & (C.POLLHUP | C.POLLERR | C.POLLNVAL)) {
      // Every process using the filter has exited.
      this.host.trace(() => `seccomp: ${l.label}: all processes gone`);
      this.#listeners.delete(fd);
      closeFd(fd);
    }
    return true;
  }

  /** Drop parked calls whose caller went away. */
  tick(): void {
    this.#acceptor.tick();
  }

  /** Work waits for the event loop (an accept on another thread). */
  pending(): boolean {
    return this.#acceptor.pending();
  }

  /** Stop supervising everything (pending and future calls of the programs fail with ENOSYS). */
  close(): void {
    this.#acceptor.close();
    for (const fd of this.#listeners.keys()) closeFd(fd);
    this.#listeners.clear();
  }

  #serve(l: Listener, n: Notification): void {
    let answer: Answer;
    try {
      answer = this.#decide(l, n);
    } catch (e) {
      // Unexpected: leave the program's call alone rather than fail it.
      this.host.log(`seccomp: ${l.label}: pid ${n.pid}: ${(e as Error).message}; continuing`);
      answer = CONTINUE;
    }
    // "gone" is only ever a guess from a failed step: a caller still
    // waiting gets an answer, always.
    if (answer === "gone" && notifIdValid(l.fd, n.id)) answer = CONTINUE;
    if (answer === "later") return; // answered, or to be, elsewhere
    if (answer === "gone") {
      this.stats.gone++;
      return;
    }
    if ("continue" in answer) this.stats.continued++;
    if (!notifRespond(l.fd, n.id, answer)) this.stats.gone++;
  }

  /** Where the address is: [descriptor, pointer, length], or undefined for "continue". */
  #addressOf(n: Notification): [number, bigint, number] | undefined | "gone" {
    const [a0, a1, a2, , a4, a5] = n.args;
    switch (n.nr) {
      case NR.bind:
      case NR.connect:
        return [Number(a0), a1, Number(a2)];
      case NR.sendto:
        return [Number(a0), a4, Number(a5)];
      case NR.sendmsg:
      case NR.sendmmsg: {
        if (n.nr === NR.sendmmsg && a2 === 0n) return undefined;
        // struct msghdr (or the first mmsghdr): msg_name, msg_namelen.
        const hdr = readMemory(n.pid, a1, 12);
        if (!hdr) return undefined;
        const v = new DataView(hdr.buffer);
        return [Number(a0), v.getBigUint64(0, true), v.getUint32(8, true)];
      }
    }
    return undefined;
  }

  #decide(l: Listener, n: Notification): Answer {
    if (n.arch !== SECCOMP.AUDIT_ARCH_X86_64) return CONTINUE;
    if (NAME_CALLS.has(n.nr)) return this.#name(l, n);
    const where = this.#addressOf(n);
    if (!where || where === "gone") return CONTINUE;
    const [fdnum, ptr, len] = where;
    if (ptr === 0n || len < 2 || len > 128) return CONTINUE;
    const bytes = readMemory(n.pid, ptr, len);
    // The PID may belong to someone else by now: only a pending id proves it did not.
    if (!notifIdValid(l.fd, n.id)) return "gone";
    const addr = bytes && parseInet(bytes);
    if (!addr) return CONTINUE;
    const bind = n.nr === NR.bind;
    const own = l.ingress.length + l.egress.length > 0;
    // Cheap checks before touching the socket (a listener without mappings of its
    // own takes its namespace's, known only from the socket).
    if (own && bind && !matchIngress(l.ingress, addr, false) && !anyPortZero(addr, l)) {
      return CONTINUE;
    }
    if (own && !bind && !matchEgress(l.egress, addr)) return CONTINUE;
    const sock = this.#socketOf(l, n, fdnum);
    if (sock === "gone") return sock;
    if (sock === undefined) return CONTINUE;
    try {
      const eff = own ? l : this.#withNamespaceMaps(l, sock);
      if (!eff) return CONTINUE;
      if (!own && !bind && !matchEgress(eff.egress, addr)) return CONTINUE;
      return bind
        ? this.#bind(eff, n, bytes, fdnum, sock)
        : this.#egress(eff, n, addr, fdnum, sock);
    } finally {
      closeFd(sock);
    }
  }

  /** `l` with the default mappings of the namespace `sock` lives in; undefined without endpoints. */
  #withNamespaceMaps(l: Listener, sock: number): Listener | undefined {
    const key = this.#namespaceOf(sock);
    return key === undefined ? undefined : { ...l, ...this.host.mapsOf(key) };
  }

  /** A copy of the caller's descriptor, when it is a socket we could convert. */
  #socketOf(l: Listener, n: Notification, fdnum: number): number | undefined | "gone" {
    let pidfd: number;
    try {
      pidfd = pidfdOpen(n.pid);
    } catch {
      return "gone";
    }
    let sock = -1;
    try {
      if (!notifIdValid(l.fd, n.id)) return "gone";
      sock = pidfdGetfd(pidfd, fdnum);
    } catch {
      return undefined; // not a descriptor: the kernel will say EBADF
    } finally {
      closeFd(pidfd);
    }
    return sock;
  }

  /** The broker's key for the namespace `sock` lives in (its cookie), when it has endpoints. */
  #namespaceOf(sock: number): string | undefined {
    const key = String(socketNetnsCookie(sock));
    return this.host.hasEndpoints(key) ? key : undefined;
  }

  /** getsockname, getpeername, accept, accept4: the program's view of a grafted socket. */
  #name(l: Listener, n: Notification): Answer {
    const sock = this.#socketOf(l, n, Number(n.args[0]));
    if (sock === undefined || sock === "gone") return sock ?? CONTINUE;
    let answer: Answer = CONTINUE;
    try {
      if (n.nr === NR.getsockname) answer = answerSockName(l, n, sock);
      else if (n.nr === NR.getpeername) answer = answerPeerName(l, n, sock);
      else {
        const view = l.names.lookup(sock);
        if (view?.unix) answer = this.#acceptor.accept(l, n, sock, view.family);
      }
      if (typeof answer === "object" && "val" in answer) this.stats.named++;
      return answer;
    } finally {
      if (answer !== "later") closeFd(sock);
    }
  }

  #bind(l: Listener, n: Notification, bytes: Uint8Array, fdnum: number, sock: number): Answer {
    const addr = parseInet(bytes)!;
    const kind = convertible(sock);
    const nsKey = kind && this.#namespaceOf(sock);
    if (!kind || !nsKey) return CONTINUE;
    const local = parseInet(sockName(sock) ?? new Uint8Array(0));
    if (local && local.port !== 0) return CONTINUE; // bound already: the kernel says EINVAL
    const v6only = kind.family === C.AF_INET6 &&
      getIntOpt(sock, C.IPPROTO_IPV6, C.IPV6_V6ONLY) === 1;
    const m = matchIngress(l.ingress, addr, v6only);
    if (!m) {
      // bind(0.0.0.0:0) before connect()/sendto(): still a client socket.
      if (anyPortZero(addr, l)) this.#rememberAnyBound(sock);
      return CONTINUE;
    }
    const req = { ep: m.ep, ...kind, port: addr.port, opts: [] };
    const view = { family: kind.family, local: bytes.slice(0, addr.version === 4 ? 16 : 28) };
    return this.#swap(l, n, nsKey, req, sock, fdnum, { val: 0 }, view);
  }

  #egress(l: Listener, n: Notification, addr: InetAddr, fdnum: number, sock: number): Answer {
    const kind = convertible(sock);
    const nsKey = kind && this.#namespaceOf(sock);
    if (!kind || !nsKey) return CONTINUE;
    const local = parseInet(sockName(sock) ?? new Uint8Array(0));
    if (!local || !isWildcard(local)) return CONTINUE;
    if (local.port !== 0 && !this.#anyBound.has(inodeOf(sock))) return CONTINUE;
    if (sockName(sock, true)) return CONTINUE; // connected already
    const m = matchEgress(l.egress, addr)!;
    const req = { ep: m.ep, ...kind, port: 0, opts: [] };
    return this.#swap(l, n, nsKey, req, sock, fdnum, CONTINUE);
  }

  /** Have the broker make the host socket, put it on the caller's descriptor, answer. */
  #swap(
    l: Listener,
    n: Notification,
    nsKey: string,
    req: GraftRequest,
    sock: number,
    fdnum: number,
    answer: Answer,
    view?: Omit<NameView, "unix">,
  ): Answer {
    req.opts = socketOptions(sock, req.family, req.type);
    let host: number;
    try {
      host = this.host.graft(nsKey, req, n.pid).fd;
    } catch (e) {
      this.stats.refused++;
      const errno = (e as { errno?: number }).errno ?? Errno.EPROTO;
      this.host.trace(() => `seccomp: ${l.label}: pid ${n.pid}: refused: ${(e as Error).message}`);
      return { error: errno };
    }
    try {
      if (isNonblocking(sock)) setNonblocking(host);
      const cloexec = closeOnExec(n.pid, fdnum);
      if (!notifIdValid(l.fd, n.id)) return "gone";
      try {
        notifAddFd(l.fd, n.id, host, fdnum, cloexec);
      } catch {
        return "gone";
      }
      this.stats.grafted++;
      if (view) l.names.remember(host, { ...view, unix: socketKind(host).domain === C.AF_UNIX });
      this.host.trace(() =>
        `seccomp: ${l.label}: pid ${n.pid}: ${callName(n.nr)} on fd ${fdnum} -> ${req.ep}`
      );
      return answer;
    } finally {
      closeFd(host);
    }
  }

  #rememberAnyBound(sock: number): void {
    if (this.#anyBound.size >= ANY_BOUND_MAX) {
      this.#anyBound.delete(this.#anyBound.values().next().value!);
    }
    this.#anyBound.add(inodeOf(sock));
  }
}

/** A bind to the wildcard with port 0 in a listener with egress mappings. */
function anyPortZero(a: InetAddr, l: Listener): boolean {
  return l.egress.length > 0 && a.port === 0 && isWildcard(a);
}

/** Family, type and protocol of an INET stream or datagram socket; undefined for others. */
function convertible(sock: number): { family: number; type: number; protocol: number } | undefined {
  const k = socketKind(sock);
  if (k.domain !== C.AF_INET && k.domain !== C.AF_INET6) return undefined;
  if (k.type !== C.SOCK_STREAM && k.type !== C.SOCK_DGRAM) return undefined;
  return { family: k.domain, type: k.type, protocol: k.protocol };
}

/** The socket's options that differ from a fresh socket's, as libgraft would send them. */
function socketOptions(sock: number, family: number, type: number): SockOpt[] {
  const out: SockOpt[] = [];
  for (const d of socketDefaults(family, type)) {
    const b = new Uint8Array(d.value.length);
    try {
      if (getOpt(sock, d.level, d.name, b) !== b.length) continue;
    } catch {
      continue;
    }
    if (b.every((x, i) => x === d.value[i])) continue;
    if (d.halve) {
      // The kernel reports twice what was set for buffer sizes.
      const v = new DataView(b.buffer);
      v.setInt32(0, v.getInt32(0, true) >> 1, true);
    }
    out.push({ level: d.level, name: d.name, value: b });
  }
  return out;
}

/** Whether descriptor `fd` of process `pid` is close-on-exec. */
function closeOnExec(pid: number, fd: number): boolean {
  try {
    const info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd}`);
    const flags = /^flags:\s*([0-7]+)$/m.exec(info)?.[1];
    return flags !== undefined && (parseInt(flags, 8) & C.O_CLOEXEC) !== 0;
  } catch {
    return false;
  }
}

function callName(nr: number): string {
  return Object.entries(NR).find(([, v]) => v === nr)?.[0] ?? `syscall ${nr}`;
}
