/**
 * libgraft-native.so, the broker's socket factory (native/graft_native.h):
 * one FFI call makes a whole batch of grafted sockets (namespace switch,
 * owner, socket(), options, bind, listen, the bound address) and, when asked,
 * sends them as the reply and closes them. The broker's TypeScript decides
 * what to make; the library only carries the plan out and says which step
 * failed with which errno.
 *
 * The plan and result buffers are made once and reused: the broker serves
 * one request at a time on one thread.
 *
 * @module
 */

import { PROTO } from "../model/contract_gen.ts";
import { GraftError } from "../model/errors.ts";
import { SysError } from "./ffi.ts";

/** The library's name, in messages. */
export const NATIVE_NAME = "libgraft-native.so";
/** The variable that names its path. */
export const NATIVE_ENV = "GRAFT_NATIVE";

/** Layout of native/graft_native.h (GN_ABI 10); checked against the library when it is opened. */
const L = {
  ABI: 10,
  PLAN_SIZE: 1824,
  RESULT_SIZE: 288,
  OPT_SIZE: 48,
  PLAN_REPLY_FD: 40,
  PLAN_GIVEN: 56,
  PLAN_SA: 64,
  PLAN_OPTS: 192,
  RESULT_ADDRLEN: 20,
  RESULT_RESERVED: 24,
  RESULT_ADDR: 32,
  RESULT_FDS: 160,
  OPTS_MAX: 34,
  RECV_META: 36,
} as const;

/** Longest option value: the wire protocol's (graft_native.h uses the same header). */
const OPTVAL_MAX = PROTO.GRAFT_SOCKOPT_VAL_MAX;
const ADDR_MAX = 128;
const GN_LISTEN = 0x1;
const GN_GETNAME = 0x2;
const GN_READY = 0x4;
const GN_BARE = 0x8;

/** Where a plan failed (enum gn_step). */
export const Step = {
  NONE: 0,
  SETNS_IN: 1,
  SOCKET: 2,
  SETNS_BACK: 3,
  SETSOCKOPT: 4,
  BIND: 5,
  LISTEN: 6,
  GETSOCKNAME: 7,
  PLAN: 8,
} as const;

const SYMBOLS = {
  graft_make_sockets: { parameters: ["buffer", "buffer"], result: "i32" },
  graft_native_layout: { parameters: ["buffer", "u32"], result: "i32" },
  graft_recv_packet: {
    parameters: ["i32", /* fd */ "buffer", /* buf */ "u32", /* cap */ "buffer", /* meta */ "i32"],
    result: "i32",
  },
  graft_wait: {
    parameters: [
      "buffer", // struct pollfd[]
      "u32", // n
      "i32", // timeout (ms)
      "u32", // window (µs)
      "i32", // hot fd
      "buffer", // buf
      "u32", // cap
      "buffer", // meta
      "i32", // want unread
      "buffer", // got
      "i32", // epfd
      "buffer", // clients
      "u32", // max
    ],
    result: "i32",
  },
  graft_wait_open: { parameters: [], result: "i32" },
  graft_fast_pool: { parameters: ["i32"], result: "i32" },
  graft_fast_put: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  graft_fast_take: { parameters: ["i32"], result: "i32" },
  graft_fast_left: { parameters: ["i32"], result: "i32" },
  graft_fast_drop: { parameters: ["i32"], result: "i32" },
  graft_fast_grant: {
    parameters: [
      "i32", // fd
      "buffer", // req
      "u32", // len
      "i32", // pool
      "i32", // family
      "buffer", // addr
      "u32", // addrlen
      "i32", // getname
    ],
    result: "i32",
  },
  graft_fast_revoke: { parameters: ["i32"], result: "i32" },
  graft_bind_guard: { parameters: ["buffer", "buffer", "u32"], result: "i32" },
  graft_batch_grant: {
    parameters: ["i32", "buffer", "u32", "buffer"], // fd, req, len, plan
    result: "i32",
  },
  graft_batch_revoke: { parameters: ["i32"], result: "i32" },
  graft_batch_revoke_all: { parameters: [], result: "void" },
  graft_batch_drain: { parameters: ["buffer", "u32"], result: "i32" },
  graft_wait_ctl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** One socket option of a plan. */
export interface PlanOption {
  level: number;
  name: number;
  value: Uint8Array;
  /** Skipped when the socket's family does not know it (ENOPROTOOPT). */
  optional: boolean;
}

/** What to make: every socket alike. */
export interface NativePlan {
  family: number;
  /** socket()'s type, without flags (SOCK_CLOEXEC is added). */
  type: number;
  protocol: number;
  /** The namespace to make the sockets in, and the one to return to; none: this thread's. */
  netns?: { target: number; home: number };
  /** The sockets' owner (the thread's filesystem uid at socket()); 0: the broker's. */
  owner: number;
  /** How many, 1..32: fewer come back when one after the first fails. */
  count: number;
  /** listen() after bind(). */
  listen: boolean;
  /** Read the bound address back (else it is `sa` as given). */
  getName: boolean;
  /** The address to bind (raw sockaddr). */
  sa: Uint8Array;
  /** Set in order before bind(). */
  opts: PlanOption[];
  /** Send the sockets as the reply (struct graft_sock_resp) and close them. */
  reply?: { fd: number; seq: number; op: number };
  /** Make the sockets only (no options, no bind, no reply): spares for a later `given`. */
  bare?: boolean;
  /**
   * With count 1: configure this socket (a spare from an earlier call) instead
   * of making one; the call owns it from then on (it is closed on failure).
   */
  given?: number;
  /** The `given` socket has its options and address already (made by a plan like this one). */
  ready?: boolean;
}

/** What came of a plan. */
export interface NativeResult {
  /** Sockets made; 0 when it failed. */
  made: number;
  /** The failure's errno (0 when made > 0). */
  err: number;
  /** Where it failed ({@link Step}). */
  step: number;
  /** For Step.SETSOCKOPT: the index of the option in the plan. */
  opt: number;
  /** With `reply`: 0 when sent, else sendmsg()'s errno (the sockets are closed either way). */
  sent: number;
  /** The first socket's bound address (raw sockaddr; with `reply`, valid until the next call). */
  addr: Uint8Array;
  /** The descriptors; already closed when the plan had `reply`. */
  fds: number[];
}

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;
let lib: Lib | undefined;
const BESIDE = new URL("../../native/build/libgraft-native.so", import.meta.url);
let locate = (): string =>
  Deno.env.get(NATIVE_ENV) || (BESIDE.protocol === "file:" ? BESIDE.pathname : "");

/**
 * Where to find the library, when the default (GRAFT_NATIVE, else the build
 * in this checkout) is not enough: a compiled graft carries its own copy.
 */
export function locateNativeWith(fn: () => string): void {
  locate = fn;
}

/** Open the library (once) and check its layout; a GraftError says what to do when it cannot. */
export function openNative(): void {
  if (lib) return;
  const path = locate();
  let l: Lib;
  try {
    l = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    throw new GraftError(
      `cannot load ${NATIVE_NAME}${path ? ` from ${path}` : ""}: ${(e as Error).message}; ` +
        `run ./scripts/setup (make -C native) to build it, or set ${NATIVE_ENV} to its path`,
    );
  }
  const want = Object.values(L);
  const got = new Uint32Array(want.length);
  const n = l.symbols.graft_native_layout(got, want.length);
  if (n !== want.length || want.some((v, i) => got[i] !== v)) {
    l.close();
    throw new GraftError(
      `${path} is another build of ${NATIVE_NAME} (ABI ${got[0]}, layout ${got.join(",")}; ` +
        `this graft needs ${want.join(",")}): rebuild it with make -C native`,
    );
  }
  lib = l;
}

const planBuf = new Uint8Array(L.PLAN_SIZE);
const planView = new DataView(planBuf.buffer);
const resultBuf = new Uint8Array(L.RESULT_SIZE);
const resultView = new DataView(resultBuf.buffer);

function writePlan(p: NativePlan): void {
  if (p.opts.length > L.OPTS_MAX) throw new RangeError(`more than ${L.OPTS_MAX} options`);
  if (p.sa.length > ADDR_MAX) throw new RangeError("address too long");
  const v = planView;
  v.setInt32(0, p.family, true);
  v.setInt32(4, p.type, true);
  v.setInt32(8, p.protocol, true);
  v.setInt32(12, p.netns ? p.netns.target : -1, true);
  v.setInt32(16, p.netns ? p.netns.home : -1, true);
  v.setUint32(20, p.owner, true);
  v.setUint32(24, p.count, true);
  const flags = (p.listen ? GN_LISTEN : 0) | (p.getName ? GN_GETNAME : 0) |
    (p.ready ? GN_READY : 0) | (p.bare ? GN_BARE : 0);
  v.setUint32(28, flags, true);
  v.setUint32(32, p.sa.length, true);
  v.setUint32(36, p.opts.length, true);
  v.setInt32(L.PLAN_REPLY_FD, p.reply ? p.reply.fd : -1, true);
  v.setUint32(44, p.reply?.seq ?? 0, true);
  v.setUint32(48, p.reply?.op ?? 0, true);
  v.setUint32(52, 0, true);
  v.setInt32(L.PLAN_GIVEN, p.given ?? -1, true);
  planBuf.set(p.sa, L.PLAN_SA);
  for (let i = 0; i < p.opts.length; i++) {
    const o = p.opts[i];
    const off = L.PLAN_OPTS + i * L.OPT_SIZE;
    if (o.value.length < 1 || o.value.length > OPTVAL_MAX) {
      throw new RangeError(`option ${i} has ${o.value.length} bytes`);
    }
    v.setInt32(off, o.level, true);
    v.setInt32(off + 4, o.name, true);
    v.setUint32(off + 8, o.value.length, true);
    v.setUint32(off + 12, o.optional ? 1 : 0, true);
    planBuf.set(o.value, off + 16);
  }
}

/** Carry out `plan` in one call into the library (opened on first use). */
export function makeSockets(plan: NativePlan): NativeResult {
  openNative();
  writePlan(plan);
  const ret = lib!.symbols.graft_make_sockets(planBuf, resultBuf);
  const v = resultView;
  const made = ret > 0 ? v.getInt32(0, true) : 0;
  const fds: number[] = [];
  for (let i = 0; i < made; i++) fds.push(v.getInt32(L.RESULT_FDS + 4 * i, true));
  const addrLen = made > 0 ? Math.min(v.getUint32(L.RESULT_ADDRLEN, true), ADDR_MAX) : 0;
  return {
    made,
    err: v.getInt32(4, true),
    step: v.getInt32(8, true),
    opt: v.getInt32(12, true),
    sent: v.getInt32(16, true),
    // Sockets sent away leave their address to be logged at most: no copy.
    addr: (plan.reply ? resultBuf.subarray : resultBuf.slice).call(
      resultBuf,
      L.RESULT_ADDR,
      L.RESULT_ADDR + addrLen,
    ),
    fds,
  };
}

/** A request read by {@link recvRequest}. */
export interface Request {
  /** The packet's bytes: a view of the caller's buffer, valid until the next read into it. */
  data: Uint8Array;
  /** Descriptors that came with it; the caller owns them. */
  fds: number[];
  /** The packet or its descriptors were cut short. */
  truncated: boolean;
  /** Bytes of earlier replies the peer has not read yet (when asked for). */
  unread: number;
}

const RECV_FDS = 4;
const meta = new Int32Array(L.RECV_META);
const EAGAIN = 11;

/**
 * Read one packet from a client's connection without blocking, into `buf`:
 * undefined when there is none, null at the end of the connection; with
 * `wantUnread`, also how much of the broker's replies the client has not read.
 * Any other failure throws a SysError.
 */
export function recvRequest(
  fd: number,
  buf: Uint8Array,
  wantUnread: boolean,
): Request | null | undefined {
  openNative();
  return request(
    lib!.symbols.graft_recv_packet(fd, buf, buf.length, meta, wantUnread ? 1 : 0),
    buf,
  );
}

function request(n: number, buf: Uint8Array): Request | null | undefined {
  if (n === -EAGAIN) return undefined;
  if (n < 0) throw new SysError("recvmsg", -n);
  const fds: number[] = [];
  for (let i = 0; i < meta[2]; i++) fds.push(meta[RECV_FDS + i]);
  const truncated = meta[1] !== 0;
  if (n === 0 && fds.length === 0 && !truncated) return null;
  return { data: buf.subarray(0, n), fds, truncated, unread: meta[3] };
}

/** The client a wait reads directly while it spins (see {@link waitReady}). */
export interface HotClient {
  /** Its connection. */
  fd: number;
  /** Where a request read goes (as for {@link recvRequest}). */
  buf: Uint8Array;
  /** Also read how much of the broker's replies it has not read. */
  wantUnread: boolean;
}

const got = new Int32Array(5);
/** Most clients one wait reports (the rest are ready again at the next). */
const CLIENTS_MAX = 64;
const clients = new Int32Array(2 * CLIENTS_MAX);

/** A new epoll interest list for {@link waitReady}'s clients (close-on-exec). */
export function waitOpen(): number {
  openNative();
  const fd = lib!.symbols.graft_wait_open();
  if (fd < 0) throw new SysError("epoll_create1", -fd);
  return fd;
}

/** Add `fd` to the interest list `epfd` (its requests wake the wait); a SysError when it fails. */
export function waitAdd(epfd: number, fd: number): void {
  const r = lib!.symbols.graft_wait_ctl(epfd, fd, 1);
  if (r < 0) throw new SysError("epoll_ctl", -r);
}

/** Remove `fd` from the interest list `epfd` (before it is closed); false when it was not there. */
export function waitDel(epfd: number, fd: number): boolean {
  return lib!.symbols.graft_wait_ctl(epfd, fd, 0) === 0;
}

/**
 * poll() over `n` struct pollfd entries in `fds`, first polled without
 * blocking for up to `windowUs` when the last wait ended within that long
 * (a client grafting socket after socket: no wakeup on either side; 0:
 * never): how many entries are ready, or -errno. While it spins, `hot` is
 * read directly: when that found its request, 0 is returned and
 * {@link hotRequest} gives it (a request of `hot` that woke the wait is read
 * so too, and others may be ready besides). When the last entry is `epfd`,
 * an interest list of clients, it does not count: its ready clients are
 * given by {@link readyClients}. Requests of `hot` that a grant covers are
 * answered in the wait ({@link waitServed}, {@link fastGrant}).
 */
export function waitReady(
  fds: Uint8Array,
  n: number,
  timeoutMs: number,
  windowUs: number,
  epfd: number,
  hot?: HotClient,
): number {
  openNative();
  got[0] = 0;
  const w = lib!.symbols.graft_wait;
  if (!hot) {
    return w(fds, n, timeoutMs, windowUs, -1, null, 0, meta, 0, got, epfd, clients, CLIENTS_MAX);
  }
  const { fd, buf, wantUnread } = hot;
  const unread = wantUnread ? 1 : 0;
  return w(
    fds,
    n,
    timeoutMs,
    windowUs,
    fd,
    buf,
    buf.length,
    meta,
    unread,
    got,
    epfd,
    clients,
    CLIENTS_MAX,
  );
}

/** The clients the last {@link waitReady} found ready: [fd, events] pairs (events as poll's). */
export function readyClients(): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < got[2]; i++) out.push([clients[2 * i], clients[2 * i + 1]]);
  return out;
}

/**
 * How many requests of its hot client the last {@link waitReady} answered
 * itself, under a grant of {@link fastGrant}.
 */
export function waitServed(): number {
  return got[3];
}

// ---- the bind guard (native/guard.c) ----------------------------------------

/** What {@link bindGuard} did: the cgroup it guards, or why it could not. */
export type BindGuard = { ok: true; cgroup: string } | { ok: false; why: string };

let guard: BindGuard | undefined;

/**
 * Refuse, for as long as this process lives, bind() on a socket of this
 * process's cgroup that has an address and no port: a client socket of a
 * `port dynamic` endpoint cannot be moved by the program it was handed to
 * (another address of the target namespace, another port, a reuse group).
 * Attached once per process; later calls return the first outcome.
 */
export function bindGuard(): BindGuard {
  if (guard) return guard;
  openNative();
  const links = new Int32Array(2);
  const msg = new Uint8Array(1024);
  const rc = lib!.symbols.graft_bind_guard(new Uint8Array(links.buffer), msg, msg.length);
  const text = new TextDecoder().decode(msg.subarray(0, Math.max(0, msg.indexOf(0))));
  guard = rc === 0 ? { ok: true, cgroup: text } : { ok: false, why: text || `error ${-rc}` };
  return guard; // the links stay open (close-on-exec) until the process ends
}

// ---- the wait's fast path (native/fast.c) -----------------------------------

/** A new pool of prepared spares for {@link fastGrant}s; undefined when all are in use. */
export function fastPool(low: number): number | undefined {
  openNative();
  const id = lib!.symbols.graft_fast_pool(low);
  return id < 0 ? undefined : id;
}

/** Hand `fds` to pool `id`: those it did not take (full, or no such pool) are returned. */
export function fastPut(id: number, fds: number[]): number[] {
  const took = Math.max(0, lib!.symbols.graft_fast_put(id, new Int32Array(fds), fds.length));
  return fds.slice(took);
}

/** The oldest spare of pool `id`, now the caller's; undefined when it has none. */
export function fastTake(id: number): number | undefined {
  const fd = lib!.symbols.graft_fast_take(id);
  return fd < 0 ? undefined : fd;
}

/** How many spares pool `id` holds. */
export function fastLeft(id: number): number {
  return lib!.symbols.graft_fast_left(id);
}

/** Withdraw the grants on pool `id`, close its spares and free it. */
export function fastDrop(id: number): void {
  lib!.symbols.graft_fast_drop(id);
}

/** The pools above, as cli/broker/spares.ts lends spares to them. */
export const FAST_POOLS = {
  open: fastPool,
  put: fastPut,
  take: fastTake,
  left: fastLeft,
  drop: fastDrop,
};

/**
 * Connection `fd` may have `req` (a GRAFT_OP_SOCKET request without
 * options) again, with another seq, answered by the wait from pool `id`
 * with `family` and `addr` in the reply (with `getName`, each socket's own
 * address, read back); replaces the connection's grant.
 * False when refused (a request of another size, no such pool).
 */
export function fastGrant(
  fd: number,
  req: Uint8Array,
  id: number,
  family: number,
  addr: Uint8Array,
  getName: boolean,
): boolean {
  const n = getName ? 1 : 0;
  return lib!.symbols.graft_fast_grant(fd, req, req.length, id, family, addr, addr.length, n) === 0;
}

/** Withdraw connection `fd`'s grant (before `fd` is closed). */
export function fastRevoke(fd: number): void {
  if (lib) lib.symbols.graft_fast_revoke(fd);
}

// ---- the wait's fast path for stock refills (native/batch.c) ----------------

/**
 * Connection `fd` may have `req` (a GRAFT_OP_SOCKETS request) again, with
 * another seq, answered by the wait with the plan {@link makeSockets} carried
 * out last (call it right after the batch it made for `req`, sent as the
 * reply); replaces the connection's grant. False when refused (a request of
 * another size, a plan of one socket, every slot taken).
 */
export function batchGrant(fd: number, req: Uint8Array): boolean {
  return lib!.symbols.graft_batch_grant(fd, req, req.length, planBuf) === 0;
}

/** Withdraw connection `fd`'s refill grant (before `fd` is closed). */
export function batchRevoke(fd: number): void {
  if (lib) lib.symbols.graft_batch_revoke(fd);
}

/** Withdraw every refill grant (endpoints, namespaces or quotas changed). */
export function batchRevokeAll(): void {
  if (lib) lib.symbols.graft_batch_revoke_all();
}

/** What the wait served under refill grants since the last call, per connection. */
export interface BatchesServed {
  fd: number;
  /** Requests answered. */
  batches: number;
  /** Sockets sent in them. */
  sockets: number;
  /** Requests whose reply could not be sent (the sockets were closed). */
  unsent: number;
}

const drained = new Int32Array(4 * 64);

/** Collect what the wait served under {@link batchGrant}s (after a wait that served some). */
export function batchDrain(): BatchesServed[] {
  const out: BatchesServed[] = [];
  for (;;) {
    const n = lib!.symbols.graft_batch_drain(drained, 64);
    for (let i = 0; i < n; i++) {
      const [fd, batches, sockets, unsent] = drained.subarray(4 * i, 4 * i + 4);
      out.push({ fd, batches, sockets, unsent });
    }
    if (n < 64) return out;
  }
}

/** How many stock refills the last {@link waitReady} answered itself. */
export function waitBatches(): number {
  return got[4];
}

/**
 * What the last {@link waitReady} read from its hot client, as
 * {@link recvRequest} returns it, or false when it read nothing. Throws a
 * SysError when the read failed.
 */
export function hotRequest(buf: Uint8Array): Request | null | undefined | false {
  if (got[0] === 0) return false;
  got[0] = 0;
  return request(got[1], buf);
}
