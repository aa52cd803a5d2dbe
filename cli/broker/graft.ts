/**
 * Making the real socket for a graft: the endpoint's address as a sockaddr,
 * the socket created in the target namespace, the application's options
 * applied (those policy.ts allows), bound, and its bound address read back.
 *
 * @module
 */

import { parseIPv4, parseIPv6 } from "../model/addr.ts";
import type { Endpoint } from "../model/endpoint.ts";
import { C, closeFd, Errno, strerror, SysError } from "../sys/ffi.ts";
import { makeSockets, NATIVE_NAME, type NativeResult, Step } from "../sys/native.ts";
import { sockaddrIn, sockaddrIn6, sockaddrUn } from "../sys/sockaddr.ts";
import { openTrustedParent, removeStaleSocket } from "../sys/unix_path.ts";
import { errnoOf, FLAG_ABSTRACT, hasFlag, optionAllowed, Refusal } from "./policy.ts";
import type { SockRequest } from "./proto.ts";

/** Where and how the real socket is made. */
export interface SocketPlan {
  /** Family of the real socket. */
  readonly family: number;
  /** Protocol for socket(). */
  readonly protocol: number;
  /** The address to bind. */
  readonly sa: Uint8Array<ArrayBuffer>;
  /** An IPv4 endpoint served to an IPv6 socket: v4-mapped, IPV6_V6ONLY off. */
  readonly forceDual: boolean;
  /** "endpoint NAME (ADDR:PORT)", for messages. */
  readonly what: string;
  /** A Unix endpoint's path (checked, and a stale socket removed, before bind). */
  readonly path?: string;
  /**
   * Hand a Unix stream socket over listening: it serves the path but can never
   * connect() to another name, such as an abstract one of the target namespace.
   */
  readonly listen?: boolean;
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

/** Plans made before, per endpoint object (endpoints are replaced, never changed in place). */
const plans = new WeakMap<Endpoint, Map<string, SocketPlan>>();
/** Plans kept per endpoint; past this the endpoint's are forgotten (ports asked for vary). */
const PLANS_PER_ENDPOINT = 64;

/**
 * The socket to make for `req` on endpoint `ep`: the same request shape on
 * the same endpoint gets the same (read-only) plan, made once.
 */
export function planSocket(ep: Endpoint, req: SockRequest): SocketPlan {
  const key = `${req.family}/${req.type}/${req.protocol}/${req.port}/${wantsV6Only(req)}`;
  let mine = plans.get(ep);
  const known = mine?.get(key);
  if (known) return known;
  const plan = makePlan(ep, req);
  if (!mine || mine.size >= PLANS_PER_ENDPOINT) plans.set(ep, mine = new Map());
  mine.set(key, plan);
  return plan;
}

function makePlan(ep: Endpoint, req: SockRequest): SocketPlan {
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

/** One option to set on every socket of a request. */
interface OptionToSet {
  level: number;
  name: number;
  value: Uint8Array;
  /** The application's own option: skipped when the family does not know it. */
  optional: boolean;
}

/** graft's own options for a plan's sockets of a type, when the application sets none (most requests). */
const ownOptions = new WeakMap<SocketPlan, OptionToSet[]>();

/** The options for `plan`'s sockets: the application's that policy allows, then graft's own. */
function optionsFor(plan: SocketPlan, req: SockRequest): OptionToSet[] {
  if (req.opts.length !== 0) return makeOptions(plan, req);
  // The plan's key holds the type: the same plan always gets the same own options.
  let own = ownOptions.get(plan);
  if (!own) ownOptions.set(plan, own = makeOptions(plan, req));
  return own;
}

function makeOptions(plan: SocketPlan, req: SockRequest): OptionToSet[] {
  const out: OptionToSet[] = [];
  for (const o of req.opts) {
    if (!optionAllowed(o, plan.family, plan.forceDual)) continue;
    out.push({ level: o.level, name: o.name, value: o.value, optional: true });
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

/** Where the sockets are created: the target namespace, and the broker's own to return to. */
export interface NetnsSwitch {
  /** The target namespace. */
  target: number;
  /** The namespace the broker's thread lives in (a descriptor held open). */
  home: number;
}

/** Sockets made for one request: all alike, bound to the same address. */
export interface GraftedBatch {
  /** The descriptors (the caller closes them after sending; already closed when sent here). */
  fds: number[];
  /** Their family. */
  family: number;
  /** The first one's bound address (raw sockaddr; with `reply`, valid until the next graft). */
  addr: Uint8Array;
  /** With `reply`: 0 when the reply went out, else sendmsg()'s errno. */
  sent?: number;
}

/** Spare sockets for single grafts (cli/broker/spares.ts). */
export interface Reuse {
  /** Configure this spare, made earlier for the same kind, instead of making a socket. */
  given?: number;
  /** The `given` spare was made by this plan, options set and bound: only hand it out. */
  ready?: boolean;
}

/** The reply to send the sockets in (struct graft_sock_resp), for {@link makeBoundSockets}. */
export interface ReplyTo {
  /** The client's connection. */
  fd: number;
  /** The request's sequence number. */
  seq: number;
  /** The request's operation, echoed. */
  op: number;
}

/**
 * Create up to `count` sockets of `plan` (in the namespace `where.target`,
 * or this thread's when undefined), apply the options, bind them and read the
 * first one's address. Fewer come back when one fails after the first; a
 * failure of the first throws. An ip socket is created with `owner` as its
 * owner (the client's uid, as its own socket would have): the kernel groups
 * SO_REUSEPORT sockets of one owner only.
 *
 * One call into libgraft-native.so does it all: the namespace switch and the
 * owner change are made once for the whole batch (only socket() depends on
 * them; options and bind act on the socket's own namespace), and with
 * `reply` the sockets are sent to the client and closed in the same call.
 * A single socket can come from a spare made earlier (`reuse.given`: no
 * switch, no socket(); with `reuse.ready` no options and no bind either;
 * see {@link makeSpareSockets}).
 */
export function makeBoundSockets(
  plan: SocketPlan,
  req: SockRequest,
  where: NetnsSwitch | undefined,
  owner: number | undefined,
  count: number,
  reply?: ReplyTo,
  reuse: Reuse = {},
): GraftedBatch {
  if (plan.path !== undefined) prepareUnixPath(plan.path, plan.what);
  const opts = optionsFor(plan, req);
  const r = makeSockets({
    family: plan.family,
    type: req.type,
    protocol: plan.protocol,
    netns: where,
    owner: plan.family === C.AF_UNIX ? 0 : owner ?? 0,
    count,
    listen: plan.listen === true,
    getName: needsName(plan, opts),
    sa: plan.sa,
    opts,
    reply,
    given: reuse.given,
    ready: reuse.ready,
  });
  if (r.made === 0) throw failure(r, plan, opts);
  const sent = reply ? r.sent : undefined;
  return { fds: r.fds, family: plan.family, addr: r.addr, sent };
}

/**
 * Up to `count` spare sockets for later single grafts of `plan` (given back
 * to {@link makeBoundSockets} as `reuse.given`): made in `where.target` as
 * `owner`, with nothing applied: what socket() would return there and then.
 * A failure of the first throws.
 */
export function makeSpareSockets(
  plan: SocketPlan,
  req: SockRequest,
  where: NetnsSwitch,
  owner: number,
  count: number,
): number[] {
  const r = makeSockets({
    family: plan.family,
    type: req.type,
    protocol: plan.protocol,
    netns: where,
    owner,
    count,
    listen: false,
    getName: false,
    sa: plan.sa,
    opts: [],
    bare: true,
  });
  if (r.made === 0) throw failure(r, plan, []);
  return r.fds;
}

/**
 * Whether the kernel fills in part of the bound address, so it must be read
 * back: a Unix path (its length), a port 0 the kernel picks at bind(), an IPv6
 * link-local address (its scope).
 */
function needsName(plan: SocketPlan, opts: OptionToSet[]): boolean {
  if (plan.family === C.AF_UNIX) return true;
  const sa = plan.sa;
  if (plan.family === C.AF_INET6 && sa[8] === 0xfe && (sa[9] & 0xc0) === 0x80) return true;
  if (sa[2] !== 0 || sa[3] !== 0) return false; // a port of its own
  return !opts.some((o) => o.level === C.IPPROTO_IP && o.name === C.IP_BIND_ADDRESS_NO_PORT);
}

/** The error for a plan that made nothing: the same words the broker has always used. */
function failure(r: NativeResult, plan: SocketPlan, opts: OptionToSet[]): Error {
  const e = r.err;
  switch (r.step) {
    case Step.SETNS_IN:
      return new SysError("setns", e, "entering network namespace");
    case Step.SOCKET:
      return new SysError("socket", e);
    case Step.SETNS_BACK:
      return new SysError("setns", e, "restoring network namespace");
    case Step.SETSOCKOPT: {
      const o = opts[r.opt];
      return new Refusal(e, `${plan.what}: setsockopt(${o.level}, ${o.name}): ${strerror(e)}`);
    }
    case Step.BIND:
      return new Refusal(e, `cannot bind ${plan.what}: ${strerror(e)}`);
    case Step.LISTEN:
      return new SysError("listen", e, plan.what);
    case Step.GETSOCKNAME:
      return new SysError("getsockname", e, plan.what);
    default:
      return new Error(`${plan.what}: ${NATIVE_NAME} refused the plan (step ${r.step})`);
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
