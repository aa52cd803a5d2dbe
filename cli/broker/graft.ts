/**
 * Making the real socket for a graft: the endpoint's address as a sockaddr,
 * the socket created in the target namespace, the application's options
 * applied (those policy.ts allows), bound, and its bound address read back.
 *
 * @module
 */

import { parseIPv4, parseIPv6 } from "../model/addr.ts";
import type { Endpoint } from "../model/endpoint.ts";
import { C, check, closeFd, Errno, errno, libc, strerror } from "../sys/ffi.ts";
import { sockaddrIn, sockaddrIn6, sockaddrUn } from "../sys/sockaddr.ts";
import { openTrustedParent, removeStaleSocket } from "../sys/unix_path.ts";
import { errnoOf, FLAG_ABSTRACT, hasFlag, optionAllowed, Refusal } from "./policy.ts";
import type { SockRequest } from "./proto.ts";

/** Where and how the real socket is made. */
export interface SocketPlan {
  /** Family of the real socket. */
  family: number;
  /** Protocol for socket(). */
  protocol: number;
  /** The address to bind. */
  sa: Uint8Array<ArrayBuffer>;
  /** An IPv4 endpoint served to an IPv6 socket: v4-mapped, IPV6_V6ONLY off. */
  forceDual: boolean;
  /** "endpoint NAME (ADDR:PORT)", for messages. */
  what: string;
  /** A Unix endpoint's path (checked, and a stale socket removed, before bind). */
  path?: string;
  /**
   * Hand a Unix stream socket over listening: it serves the path but can never
   * connect() to another name, such as an abstract one of the target namespace.
   */
  listen?: boolean;
}

/** A bound socket ready to hand over. */
export interface Grafted {
  /** The descriptor (the caller closes it after sending). */
  fd: number;
  /** Its family. */
  family: number;
  /** Its bound address (raw sockaddr). */
  addr: Uint8Array;
}

function describe(ep: Endpoint, appPort: number): string {
  if (ep.type === "unix") return ep.path;
  const port = ep.port === "dynamic" ? appPort : ep.port;
  return ep.type === "ipv6" ? `[${ep.addr}]:${port}` : `${ep.addr}:${port}`;
}

/** Does the request set IPV6_V6ONLY to a non-zero value? */
function wantsV6Only(req: SockRequest): boolean {
  return req.opts.some((o) =>
    o.level === C.IPPROTO_IPV6 && o.name === C.IPV6_V6ONLY && o.value.some((b) => b !== 0)
  );
}

/** The socket to make for `req` on endpoint `ep`. */
export function planSocket(ep: Endpoint, req: SockRequest): SocketPlan {
  const what = `endpoint ${ep.name} (${describe(ep, req.port)})`;
  if (ep.type === "unix") {
    const listen = req.type === C.SOCK_STREAM && !hasFlag(ep, FLAG_ABSTRACT);
    const sa = sockaddrUn(ep.path);
    return { family: C.AF_UNIX, protocol: 0, sa, forceDual: false, what, path: ep.path, listen };
  }
  const port = ep.port === "dynamic" ? req.port : ep.port;
  const protocol = req.protocol;
  if (ep.type === "ipv4" && req.family === C.AF_INET6) {
    if (wantsV6Only(req)) {
      // It could only serve the endpoint dual-stack, against its setting.
      throw new Refusal(
        Errno.EADDRNOTAVAIL,
        `${what}: the socket is IPV6_V6ONLY and the endpoint is IPv4`,
      );
    }
    // Keep the application's family: an IPv4 endpoint as a v4-mapped address.
    const mapped = new Uint8Array(16);
    mapped.set([0xff, 0xff], 10);
    mapped.set(parseIPv4(ep.addr)!, 12);
    return { family: C.AF_INET6, protocol, sa: sockaddrIn6(mapped, port), forceDual: true, what };
  }
  if (ep.type === "ipv4") {
    return {
      family: C.AF_INET,
      protocol,
      sa: sockaddrIn(parseIPv4(ep.addr)!, port),
      forceDual: false,
      what,
    };
  }
  const sa = sockaddrIn6(parseIPv6(ep.addr)!, port);
  return { family: C.AF_INET6, protocol, sa, forceDual: false, what };
}

/** 4-byte int option values, made once: the batch path sets them on every socket. */
const INT_ONE = intValue(1);
const INT_ZERO = intValue(0);

function intValue(v: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

/** One option to set on every socket of a request (its value copied once). */
interface OptionToSet {
  level: number;
  name: number;
  value: Uint8Array<ArrayBuffer>;
  /** The application's own option: skipped when the family does not know it. */
  optional: boolean;
}

/** The options for `plan`'s sockets: the application's that policy allows, then graft's own. */
function optionsFor(plan: SocketPlan, req: SockRequest): OptionToSet[] {
  const out: OptionToSet[] = [];
  for (const o of req.opts) {
    if (!optionAllowed(o, plan.family, plan.forceDual)) continue;
    out.push({ level: o.level, name: o.name, value: o.value.slice(), optional: true });
  }
  if (plan.forceDual) {
    out.push({ level: C.IPPROTO_IPV6, name: C.IPV6_V6ONLY, value: INT_ZERO, optional: false });
  }
  const port = new DataView(plan.sa.buffer).getUint16(2, false);
  if (plan.family !== C.AF_UNIX && req.type === C.SOCK_STREAM && port === 0) {
    // A client socket: let connect() pick the port with the full 4-tuple,
    // as it would for an unbound socket, instead of reserving one in bind().
    const name = C.IP_BIND_ADDRESS_NO_PORT;
    out.push({ level: C.IPPROTO_IP, name, value: INT_ONE, optional: false });
  }
  return out;
}

/** Set the options on fd, bind it (and listen, for a Unix stream endpoint). */
function configure(fd: number, plan: SocketPlan, opts: OptionToSet[]): void {
  for (const o of opts) {
    if (libc().setsockopt(fd, o.level, o.name, o.value, o.value.length) < 0) {
      const e = errno();
      // An option the endpoint's family does not know is skipped, as the kernel backend does.
      if (!o.optional || e !== Errno.ENOPROTOOPT) {
        throw new Refusal(e, `${plan.what}: setsockopt(${o.level}, ${o.name}): ${strerror(e)}`);
      }
    }
  }
  if (libc().bind(fd, plan.sa, plan.sa.length) < 0) {
    const e = errno();
    throw new Refusal(e, `cannot bind ${plan.what}: ${strerror(e)}`);
  }
  if (plan.listen) check("listen", libc().listen(fd, 4096), plan.what);
}

function boundAddress(fd: number, what: string): Uint8Array {
  const addr = new Uint8Array(128);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, 128, true);
  check("getsockname", libc().getsockname(fd, addr, len), what);
  return addr.slice(0, new DataView(len.buffer).getUint32(0, true));
}

/** Where the sockets are created: the target namespace, and the broker's own to return to. */
export interface NetnsSwitch {
  /** The target namespace. */
  target: number;
  /** The namespace the broker's thread lives in (a descriptor held open). */
  home: number;
}

/** Sockets made for one request: all alike, bound to the same address. */
export interface GraftedBatch {
  /** The descriptors (the caller closes them after sending). */
  fds: number[];
  /** Their family. */
  family: number;
  /** The first one's bound address (raw sockaddr). */
  addr: Uint8Array;
}

/**
 * Create up to `count` sockets of `plan` (in the namespace `where.target`,
 * or this thread's when undefined), apply the options, bind them and read the
 * first one's address. Fewer come back when one fails after the first; a
 * failure of the first throws. An ip socket is created with `owner` as its
 * owner (the client's uid, as its own socket would have): the kernel groups
 * SO_REUSEPORT sockets of one owner only.
 *
 * The namespace switch and the owner change are made once for the whole
 * batch: only socket() depends on them (options and bind act on the socket's
 * own namespace), and a `port dynamic` batch is bound to one address with no
 * port, so one getsockname() answers for all.
 */
export function makeBoundSockets(
  plan: SocketPlan,
  req: SockRequest,
  where: NetnsSwitch | undefined,
  owner: number | undefined,
  count: number,
): GraftedBatch {
  if (plan.path !== undefined) prepareUnixPath(plan.path, plan.what);
  const opts = optionsFor(plan, req);
  const fds = createSockets(plan, req, where, plan.family === C.AF_UNIX ? undefined : owner, count);
  let ok = 0;
  try {
    for (; ok < fds.length; ok++) {
      try {
        configure(fds[ok], plan, opts);
      } catch (e) {
        if (ok === 0) throw e;
        break; // hand out what we have
      }
    }
    return { fds: fds.slice(0, ok), family: plan.family, addr: boundAddress(fds[0], plan.what) };
  } catch (e) {
    ok = 0;
    throw e;
  } finally {
    for (const fd of fds.slice(ok)) closeFd(fd);
  }
}

/** socket() `count` times in the target namespace, as `owner`; at least one or it throws. */
function createSockets(
  plan: SocketPlan,
  req: SockRequest,
  where: NetnsSwitch | undefined,
  owner: number | undefined,
  count: number,
): number[] {
  const fds: number[] = [];
  const make = () => {
    for (let i = 0; i < count; i++) {
      const fd = libc().socket(plan.family, req.type | C.SOCK_CLOEXEC, plan.protocol);
      if (fd < 0 && i === 0) check("socket", fd);
      if (fd < 0) break;
      fds.push(fd);
    }
  };
  try {
    asOwner(owner, () => inNetns(where, make));
  } catch (e) {
    for (const fd of fds) closeFd(fd);
    throw e;
  }
  return fds;
}

/**
 * Run `fn` with this thread in `where.target`, back in `where.home` after
 * (a held descriptor: no path lookup per switch). A thread that cannot
 * return must not serve anything else: that failure is thrown.
 */
function inNetns(where: NetnsSwitch | undefined, fn: () => void): void {
  if (where === undefined) return fn();
  check("setns", libc().setns(where.target, C.CLONE_NEWNET), "entering network namespace");
  try {
    fn();
  } finally {
    check("setns", libc().setns(where.home, C.CLONE_NEWNET), "restoring network namespace");
  }
}

/**
 * Before binding a Unix endpoint: its directories must be ones only root can
 * change (so the path cannot be redirected between this check and bind()),
 * and a stale socket file there is removed without blocking.
 */
function prepareUnixPath(path: string, what: string): void {
  let parent;
  try {
    parent = openTrustedParent(path);
  } catch (e) {
    throw new Refusal(errnoOf(e, Errno.EPERM), `${what}: ${(e as Error).message}`);
  }
  try {
    removeStaleSocket(parent.dirFd, parent.name);
  } finally {
    closeFd(parent.dirFd);
  }
}

/** Run `fn` with this thread's filesystem uid set to `uid` (the owner of sockets it creates). */
function asOwner<T>(uid: number | undefined, fn: () => T): T {
  if (uid === undefined || uid === 0) return fn();
  libc().setfsuid(uid);
  try {
    return fn();
  } finally {
    libc().setfsuid(0);
  }
}
