/**
 * What the broker allows (docs/security.md): who may change endpoints, which
 * requests it serves, what a socket may carry, which options it applies, whose
 * connection gives way to a new one. Refusals carry an errno and a
 * reason naming the endpoint. No system calls here: the server asks, this
 * module answers.
 *
 * @module
 */

import type { Endpoint, EndpointFlag } from "../model/endpoint.ts";
import { C, Errno, SysError } from "../sys/ffi.ts";
import { Cap, hasCap, type PeerCaps } from "../sys/peer.ts";
import type { SockOpt, SockRequest } from "./proto.ts";

/** A refusal with an errno and a reason that names the endpoint. */
export class Refusal extends Error {
  /** A refusal answered with `errno` and `message`. */
  constructor(readonly errno: number, message: string) {
    super(message);
    this.name = "Refusal";
  }
}

/** The errno to answer with for a failure: the refusal's or system call's, else `fallback`. */
export function errnoOf(e: unknown, fallback: number): number {
  return e instanceof Refusal || e instanceof SysError ? e.errno : fallback;
}

const key = (level: number, name: number) => `${level}:${name}`;

/** Socket options the broker applies before bind; anything else is left to the application. */
const ALLOWED_OPTS = new Set([
  key(C.SOL_SOCKET, C.SO_REUSEADDR),
  key(C.SOL_SOCKET, C.SO_REUSEPORT),
  key(C.SOL_SOCKET, C.SO_KEEPALIVE),
  key(C.SOL_SOCKET, C.SO_BROADCAST),
  key(C.SOL_SOCKET, C.SO_SNDBUF),
  key(C.SOL_SOCKET, C.SO_RCVBUF),
  key(C.SOL_SOCKET, C.SO_LINGER),
  key(C.SOL_SOCKET, C.SO_RCVTIMEO),
  key(C.SOL_SOCKET, C.SO_SNDTIMEO),
  key(C.IPPROTO_IP, C.IP_TOS),
  key(C.IPPROTO_IP, C.IP_TTL),
  key(C.IPPROTO_IPV6, C.IPV6_V6ONLY),
  key(C.IPPROTO_IPV6, C.IPV6_TCLASS),
  key(C.IPPROTO_TCP, C.TCP_NODELAY),
  key(C.IPPROTO_TCP, C.TCP_KEEPIDLE),
  key(C.IPPROTO_TCP, C.TCP_KEEPINTVL),
  key(C.IPPROTO_TCP, C.TCP_KEEPCNT),
]);
/** The subset that makes sense on a Unix socket. */
const UNIX_OPTS = new Set([
  key(C.SOL_SOCKET, C.SO_SNDBUF),
  key(C.SOL_SOCKET, C.SO_RCVBUF),
  key(C.SOL_SOCKET, C.SO_RCVTIMEO),
  key(C.SOL_SOCKET, C.SO_SNDTIMEO),
]);

/**
 * Should the broker apply this option of the application's to the real
 * socket? `family` is the real socket's; `forceDual` when an IPv4 endpoint is
 * served as a v4-mapped IPv6 socket (IPV6_V6ONLY is then the broker's).
 */
export function optionAllowed(o: SockOpt, family: number, forceDual: boolean): boolean {
  const allowed = family === C.AF_UNIX ? UNIX_OPTS : ALLOWED_OPTS;
  if (!allowed.has(key(o.level, o.name))) return false;
  if (forceDual && o.level === C.IPPROTO_IPV6 && o.name === C.IPV6_V6ONLY) return false;
  return !(family === C.AF_INET && o.level === C.IPPROTO_IPV6);
}

/** Refuse a socket request the broker does not serve (type and family). */
export function checkSocketRequest(req: SockRequest): void {
  if (req.type !== C.SOCK_STREAM && req.type !== C.SOCK_DGRAM) {
    throw new Refusal(Errno.EINVAL, `endpoint ${req.ep}: socket type ${req.type} not supported`);
  }
  if (req.family !== C.AF_INET && req.family !== C.AF_INET6) {
    throw new Refusal(Errno.EAFNOSUPPORT, `endpoint ${req.ep}: family ${req.family} not supported`);
  }
}

/** A batch of client sockets (GRAFT_OP_SOCKETS) is only for a port-dynamic ip endpoint's connect(). */
export function checkBatchRequest(ep: Endpoint, req: SockRequest): void {
  if (ep.type === "unix" || ep.port !== "dynamic" || req.port !== 0 || req.type !== C.SOCK_STREAM) {
    throw new Refusal(
      Errno.EINVAL,
      `endpoint ${req.ep}: only port-dynamic ip endpoints hand out sockets in batches`,
    );
  }
}

/** The administrator: CAP_NET_ADMIN in the initial user namespace (docs/security.md), never "uid 0". */
export function isAdmin(caps: PeerCaps): boolean {
  return hasCap(caps, Cap.NET_ADMIN);
}

/** Refuse `what` ("adding endpoints") to a client that is not the administrator. */
export function requireAdmin(caps: PeerCaps, what: string): void {
  if (!isAdmin(caps)) {
    throw new Refusal(
      Errno.EPERM,
      `${what}: permission denied: needs CAP_NET_ADMIN in the initial user namespace ` +
        `(uid 0 alone is not enough)`,
    );
  }
}

/** Endpoint flag: SO_REUSEPORT may be set (joining a port's reuse group). */
export const FLAG_REUSEPORT: EndpointFlag = "reuseport";
/** Endpoint flag (unix): sockets that can reach abstract addresses are allowed. */
export const FLAG_ABSTRACT: EndpointFlag = "abstract";

/** True when the endpoint carries `flag`. */
export function hasFlag(ep: Endpoint, flag: EndpointFlag): boolean {
  return ep.flags?.includes(flag) ?? false;
}

/** The parts of a socket request the grant policy looks at. */
export type SocketAsk = Pick<SockRequest, "type" | "protocol" | "port" | "opts">;

/**
 * Refuse a socket that would carry more than the client could have itself
 * (docs/security.md): a privileged port of a `port dynamic` endpoint without
 * CAP_NET_BIND_SERVICE, SO_REUSEPORT on a port given by number without the
 * endpoint's flag reuseport,
 * a protocol other than TCP/UDP, a Unix datagram socket (it could reach the
 * target's abstract names) without flag abstract, and any socket for a client
 * holding CAP_NET_ADMIN but not CAP_SYS_ADMIN (a host socket would let it
 * configure the target's interfaces). `caps` and `unprivStart` are read only
 * when needed.
 */
export function checkGrant(
  ep: Endpoint,
  ask: SocketAsk,
  caps: () => PeerCaps,
  unprivStart: () => number,
): void {
  const what = `endpoint ${ep.name}`;
  if (ep.type === "unix") {
    if (ask.type === C.SOCK_DGRAM && !hasFlag(ep, FLAG_ABSTRACT)) {
      throw new Refusal(
        Errno.EPERM,
        `${what}: a datagram socket there could reach the target namespace's abstract sockets; ` +
          `add flag abstract to allow`,
      );
    }
  } else {
    const proto = ask.type === C.SOCK_STREAM ? C.IPPROTO_TCP : C.IPPROTO_UDP;
    if (ask.protocol !== 0 && ask.protocol !== proto) {
      throw new Refusal(
        Errno.EPROTONOSUPPORT,
        `${what}: protocol ${ask.protocol} is not served (TCP and UDP only)`,
      );
    }
    if (ep.port === "dynamic" && ask.port !== 0 && ask.port < unprivStart()) {
      if (!hasCap(caps(), Cap.NET_BIND_SERVICE)) {
        throw new Refusal(
          Errno.EACCES,
          `${what}: port ${ask.port} is privileged on the target ` +
            `(below ip_unprivileged_port_start) and the caller lacks CAP_NET_BIND_SERVICE`,
        );
      }
    }
  }
  // A port the kernel picks (0) joins no one's group on purpose (DNS clients
  // set the option on every UDP socket); a port asked for by number could.
  const port = ep.type === "unix" ? 0 : ep.port === "dynamic" ? ask.port : ep.port;
  const reuse = ask.opts.some((o) =>
    o.level === C.SOL_SOCKET && o.name === C.SO_REUSEPORT && o.value.some((b) => b !== 0)
  );
  if (reuse && port !== 0 && !hasFlag(ep, FLAG_REUSEPORT)) {
    throw new Refusal(
      Errno.EPERM,
      `${what}: SO_REUSEPORT would join the port's reuse group; the endpoint needs flag reuseport`,
    );
  }
  const c = caps();
  if (hasCap(c, Cap.NET_ADMIN) && !hasCap(c, Cap.SYS_ADMIN)) {
    throw new Refusal(
      Errno.EPERM,
      `${what}: the caller holds CAP_NET_ADMIN but not CAP_SYS_ADMIN; a host socket would let ` +
        `it configure the target namespace's interfaces (drop CAP_NET_ADMIN to graft)`,
    );
  }
}

/** A connection as the eviction policy sees it. */
export interface ConnInfo {
  /** The peer's credentials: its uid. */
  cred: { uid: number };
  /** Last time it sent a request (ms). */
  lastActive: number;
}

/**
 * The connection to close to admit one more: the idlest connection of the
 * uid that holds the most (so one user's flood evicts only its own).
 */
export function pickEviction<T extends ConnInfo>(conns: Iterable<T>): T | undefined {
  const byUid = new Map<number, T[]>();
  for (const c of conns) {
    const list = byUid.get(c.cred.uid);
    if (list) list.push(c);
    else byUid.set(c.cred.uid, [c]);
  }
  let heaviest: T[] | undefined;
  for (const list of byUid.values()) {
    if (!heaviest || list.length > heaviest.length) heaviest = list;
  }
  let idlest: T | undefined;
  for (const c of heaviest ?? []) if (!idlest || c.lastActive < idlest.lastActive) idlest = c;
  return idlest;
}

/** Most connections one uid may hold: half of the broker's `--max`. */
export function perUidLimit(maxClients: number): number {
  return Math.max(1, Math.floor(maxClients / 2));
}
