/**
 * What the broker allows: who may change endpoints, which requests it
 * serves, which socket options it applies. Refusals carry an errno and a
 * reason naming the endpoint. No system calls here: the server asks, this
 * module answers.
 *
 * @module
 */

import type { Endpoint } from "../model/endpoint.ts";
import { C, Errno, SysError } from "../sys/ffi.ts";
import type { PeerCred } from "../sys/unix.ts";
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

/** The administrator: who may add and delete endpoints, act in other namespaces, read status. */
export function isAdmin(cred: PeerCred): boolean {
  return cred.uid === 0;
}

/** Refuse `what` ("adding endpoints") to a client that is not the administrator. */
export function requireAdmin(cred: PeerCred, what: string): void {
  if (!isAdmin(cred)) throw new Refusal(Errno.EPERM, `${what} needs root (CAP_NET_ADMIN)`);
}
