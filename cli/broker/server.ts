/**
 * The broker: `graft daemon`. It keeps endpoints per client network
 * namespace and, on request from the preload library, creates the real socket
 * in the endpoint's target namespace, binds it to the endpoint's address and
 * passes the bound descriptor back over SCM_RIGHTS.
 *
 * The client's namespace is the one its socket was created in (SO_NETNS_COOKIE
 * on the accepted socket), never a PID looked up later and never the request;
 * administration needs CAP_NET_ADMIN, read through a pidfd; a container can
 * only use the endpoints defined in it (docs/security.md). The broker binds
 * before handing over: a container never holds an unbound host-namespace
 * socket it could bind anywhere.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { formatSockaddr } from "../model/addr.ts";
import { endpointFromJson, formatEndpoint } from "../model/endpoint.ts";
import { canonicalMapping, emptyMaps, mapKindOf, type NamespaceMaps } from "../model/nsmap.ts";
import { C, check, closeFd, Errno, errnoName, libc, openFd } from "../sys/ffi.ts";
import { netnsIdOfFd, netnsKey } from "../sys/netns.ts";
import {
  NO_CAPS,
  type PeerCaps,
  peerCaps,
  setPassRights,
  socketNetnsCookie,
  unprivilegedPortStart,
  unreadBytes,
} from "../sys/peer.ts";
import {
  batchDrain,
  batchGrant,
  batchRevoke,
  batchRevokeAll,
  bindGuard,
  FAST_POOLS,
  fastGrant,
  fastRevoke,
  hotRequest,
  openNative,
  readyClients,
  recvRequest,
  type Request,
  waitAdd,
  waitBatches,
  waitDel,
  waitOpen,
  waitReady,
  waitServed,
} from "../sys/native.ts";
import { decodeSockaddr } from "../sys/sockaddr.ts";
import {
  acceptNonblock,
  type PeerCred,
  peerCred,
  type PollResult,
  sendPacket,
  seqpacketListen,
  setIntOpt,
} from "../sys/unix.ts";
import {
  type GraftedBatch,
  makeBoundSockets,
  makeSpareSockets,
  type NetnsSwitch,
  planSocket,
  type ReplyTo,
  type SocketPlan,
} from "./graft.ts";
import {
  checkBatchRequest,
  checkGrant,
  checkSocketRequest,
  errnoOf,
  isAdmin,
  perUidLimit,
  pickEviction,
  Refusal,
  requireAdmin,
} from "./policy.ts";
import * as P from "./proto.ts";
import { RefCache, restore, snapshot } from "./persist.ts";
import {
  PREPARED_FIRST,
  PREPARED_LOW,
  type SpareMaker,
  Spares,
  SPARES_PER_SWITCH,
} from "./spares.ts";
import { namespaceKey, Registry, type StoredEndpoint } from "./registry.ts";
import { StateFile } from "./state.ts";

/** Most descriptors of one namespace sent in replies its clients have not read yet. */
const NS_INFLIGHT_MAX = 256;

/** Changes within this long of the last state write are written together, this much later. */
const SAVE_GAP_MS = 50;

/**
 * How long the broker's thread waits in poll() before letting the event loop
 * run (signal handlers, the seccomp acceptor's finished accepts): 20 ms while
 * there is work, doubling on every idle slice up to 250 ms, so an idle broker
 * wakes 4 times a second and a signal is still handled within 250 ms.
 */
const POLL_SLICE_MS = 20;
const IDLE_SLICE_MS = 250;

/**
 * A busy broker lets the event loop run a full turn at least this often; in
 * between, a quick one (see #letEventLoopRun).
 */
const FULL_TURN_MS = 2 * IDLE_SLICE_MS;

/** How often idle clients and gone namespaces are looked for (a turn serving a graft does not). */
const HOUSEKEEPING_MS = 100;

/** Options for {@link Broker}. */
export interface BrokerOptions {
  /** Socket path to listen on. */
  socketPath: string;
  /** Called with one line per event when set: start, stop and trouble, with a level. */
  log?: (line: string, level?: LogLevel) => void;
  /** The state file (endpoints survive restarts); none when undefined. */
  statePath?: string;
  /** A listening socket to serve instead of creating one (socket activation). */
  listenFd?: number;
  /** Also log every request (endpoint changes, grafts, refusals). */
  verbose?: boolean;
  /** Close clients idle for this long (ms). Default 10 s. */
  idleMs?: number;
  /** How often to forget endpoints of namespaces that no longer exist (ms). Default 10 s. */
  gcMs?: number;
  /** Most clients connected at once; the longest idle is closed to admit another. Default 4096. */
  maxClients?: number;
  /**
   * How long (µs) to keep polling without blocking for the next request,
   * after a single graft (GRAFT_OP_SOCKET) that came within that long of the
   * wait's start; 0: always block. Default {@link SPIN_US}.
   */
  spinUs?: number;
}

/**
 * The default of `spinUs`: a client grafting one socket after another (a
 * request within 50 µs of the last reply) is answered without a wakeup on
 * the broker's side; a wait that ends later makes the next one block at once
 * (preload/graft_spin.h, GRAFT_SPIN_REQUEST_US).
 */
export const SPIN_US = 50;
/** The largest `spinUs` accepted: a millisecond of polling is already a CPU kept busy. */
export const SPIN_US_MAX = 1000;

/** Another service on the broker's thread (the seccomp supervisor): descriptors and a handler. */
export interface PollSource {
  /** Descriptors to wait on. */
  fds(): number[];
  /** Serve a ready descriptor; false when it is not this source's. */
  handle(fd: number, revents: number): boolean;
  /** Called once per loop turn (timeouts). */
  tick(): void;
  /** Work of this source waits for the event loop (a promise to settle): keep slices short. */
  pending?(): boolean;
  /** Release everything. */
  close(): void;
}

/** How much a log line matters (journald's priorities: err, warning, info, debug). */
export type LogLevel = "error" | "warning" | "info" | "debug";

/** A ready descriptor; for the hot client, the request the wait read already (see #poll). */
type Ready = PollResult & { pkt?: Request | null | undefined };

/** What one turn of the serve loop polls besides the clients (see #pollSet). */
interface PollSet {
  /** The descriptors, in the order of the poll buffer; the clients' interest list last. */
  fds: number[];
  /** The source that owned each of the sources' descriptors when the set was made. */
  owners: Map<number, PollSource>;
  /** The sources' descriptors it was made with. */
  sourceFds: number[];
  /** The poll buffer holds these descriptors. */
  written: boolean;
}

interface Client {
  fd: number;
  cred: PeerCred;
  /** The peer's namespace: the cookie of the namespace its socket lives in. */
  nsKey: string;
  /** The peer's capabilities, read once through a pidfd when first needed. */
  caps?: PeerCaps;
  /** Descriptors sent in the last reply; the client has them once its receive queue is empty (#setInflight). */
  inflight: number;
  /** Bytes of our replies the client had not read when its latest request was read. */
  unread: number;
  lastActive: number;
  /** The prepared kind of its fast-path grant (the wait answers it; see #grantFast). */
  fast?: { kind: string; make: SpareMaker };
}

/** The graft broker. Create, then `await serve()`; `stop()` ends it. */
export class Broker {
  readonly #opts:
    & Required<Omit<BrokerOptions, "log" | "statePath" | "listenFd">>
    & Pick<BrokerOptions, "log" | "statePath" | "listenFd">;
  #registry = new Registry();
  readonly #clients = new Map<number, Client>();
  /** Per namespace: its clients' undelivered sockets (the sum of their inflight) and who holds them. */
  readonly #held = new Map<string, { total: number; by: Set<Client> }>();
  #listenFd = -1;
  #defaultTargetFd = -1;
  #wakeRead = -1;
  #wakeWrite = -1;
  #stopping = false;
  #homeKey = "";
  /** The broker's own namespace, held open: grafts for other namespaces return to it. */
  #homeFd = -1;
  #lastGc = 0;
  /** True where the kernel has no SO_PASSRIGHTS: clients can still send descriptors. */
  #passRights = false;
  readonly #scratch = new Uint8Array(P.PACKET_MAX);
  #pollBuf = new Uint8Array(8 * 64);
  #pollView = new DataView(this.#pollBuf.buffer);
  readonly #sources: PollSource[] = [];
  /** The clients' epoll interest list: a wait costs what is ready, not what is connected. */
  #epfd = -1;
  #lastSet?: PollSet;
  /** The client served last: read directly while the wait spins. */
  #hot?: Client;
  /** The operation of the request served last (the wait spins after a single graft only). */
  #lastOp = 0;
  #lastHousekeeping = 0;
  /** Connections per uid, for #makeRoom. */
  readonly #perUid = new Map<number, number>();
  /** When the event loop last ran a turn, and a full one (#letEventLoopRun). */
  #lastTurn = Date.now();
  #lastFullTurn = Date.now();
  /** Requests served, by outcome (fast: of them, answered in the wait); read by tests and `graft inspect`. */
  readonly stats = { sockets: 0, refused: 0, malformed: 0, requests: 0, fast: 0 };
  /** Refusals by errno name ("EADDRNOTAVAIL": 3). */
  readonly refusedBy: Record<string, number> = {};
  readonly #startedAt = Date.now();
  #state?: StateFile;
  #dirty = false;
  #savedAt = 0;
  readonly #refs = new RefCache();
  /** Sockets made ahead for single grafts; prepared ones lent to the wait (not when tracing). */
  readonly #spares: Spares;
  /** The packet of the GRAFT_OP_SOCKET request being served (for #grantFast). */
  #packet?: Uint8Array;
  /** Requests the last wait answered itself: single grafts (native/fast.c), refills (batch.c). */
  #served = 0;

  /** A broker that will listen on `opts.socketPath`. */
  constructor(opts: BrokerOptions) {
    this.#opts = {
      ...opts,
      idleMs: opts.idleMs ?? 10_000,
      gcMs: opts.gcMs ?? 10_000,
      maxClients: opts.maxClients ?? 4096,
      spinUs: opts.spinUs ?? SPIN_US,
      verbose: opts.verbose ?? false,
    };
    // Requests answered in the wait leave no trace line: with tracing, none is.
    const fast = !this.#opts.verbose && this.#opts.spinUs > 0;
    this.#spares = new Spares(closeFd, fast ? FAST_POOLS : undefined);
  }

  #log(line: string, level: LogLevel = "info"): void {
    this.#opts.log?.(line, level);
  }

  /** A per-request line: built only when someone reads it (grafting is a hot path). */
  #trace(line: () => string): void {
    if (this.#opts.verbose && this.#opts.log) this.#opts.log(line(), "debug");
  }

  /** Open the listening socket; throws when the path is taken by a live broker. */
  listen(): void {
    const dir = this.#opts.socketPath.replace(/\/[^/]*$/, "") || "/";
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    raiseFileLimit();
    openNative(); // the socket factory: a broker without it says so now, not at the first graft
    this.#epfd = waitOpen();
    // Claim the socket first: a second broker fails here, before saying anything else.
    this.#listenFd = this.#opts.listenFd !== undefined
      ? adoptListener(this.#opts.listenFd)
      : seqpacketListen(this.#opts.socketPath);
    // Accepted sockets inherit this: a client's sendmsg() with SCM_RIGHTS fails in the client.
    this.#passRights = !setPassRights(this.#listenFd, false);
    this.#defaultTargetFd = openDefaultTarget((line) => this.#log(line, "warning"));
    this.#homeFd = openFd("/proc/thread-self/ns/net");
    this.#homeKey = netnsKey(netnsIdOfFd(this.#homeFd));
    const pipe = new Int32Array(2);
    check("pipe2", libc().pipe2(new Uint8Array(pipe.buffer), C.O_CLOEXEC | C.O_NONBLOCK));
    [this.#wakeRead, this.#wakeWrite] = [pipe[0], pipe[1]];
    const how = this.#opts.listenFd !== undefined ? " (socket activation)" : "";
    this.#log(`listening on ${this.#opts.socketPath}${how}`);
    // Before the first request: the client sockets it makes cannot be moved by their holders.
    const guard = bindGuard();
    if (guard.ok) {
      this.#log(
        `bind guard on cgroup ${guard.cgroup}: client sockets stay where endpoints bind them`,
      );
    } else {
      this.#log(
        `no bind guard (${guard.why}): a program could bind the client sockets of port-dynamic ` +
          "endpoints again, to another address or port of their target namespace",
        "warning",
      );
    }
    if (this.#opts.statePath !== undefined) {
      this.#state = new StateFile(this.#opts.statePath);
      this.#loadState("start");
    }
  }

  /** Read the state file again (SIGHUP): its endpoints replace those held now. */
  reload(): void {
    if (this.#state) this.#loadState("reload");
  }

  /**
   * Load the state file into a fresh registry and swap it in. An unusable
   * file is kept aside and changes nothing on reload (the previous good state
   * is served and written back).
   */
  #loadState(why: "start" | "reload"): void {
    const loaded = this.#state!.load(why === "reload");
    if (loaded.problem) this.#log(loaded.problem, "error");
    if (loaded.problem && why === "reload") {
      this.#persist();
      return;
    }
    const fresh = new Registry();
    const old = this.#registry;
    const r = restore(
      loaded.state,
      fresh,
      this.#refs,
      this.#defaultTargetFd,
      (devIno) => [...old.namespaces()].find((ns) => netnsKey(netnsIdOfFd(ns.fd)) === devIno)?.fd,
    );
    old.clear();
    this.#registry = fresh;
    this.#dropPrepared();
    for (const line of r.dropped) this.#log(line, "warning");
    this.#log(
      `state ${why === "start" ? "loaded" : "reloaded"} from ${this.#state!.path}` +
        `${loaded.from === "bak" ? ".bak" : ""}: ${r.endpoints} endpoint(s) in ` +
        `${r.namespaces} namespace(s)${r.maps ? `, ${r.maps} mapping(s)` : ""}` +
        `${r.dropped.length ? `, ${r.dropped.length} dropped` : ""}`,
    );
    this.#persist();
  }

  /**
   * Write the state file after a change: at once, or, within a burst of
   * changes, at most {@link SAVE_GAP_MS} after the last write (the serve loop
   * calls {@link #flush}). A failure is logged once until writes work again.
   */
  #persist(): void {
    if (!this.#state) return;
    this.#dirty = true;
    if (Date.now() - this.#savedAt >= SAVE_GAP_MS) this.#flush();
  }

  #flush(): void {
    if (!this.#state || !this.#dirty) return;
    this.#dirty = false;
    this.#savedAt = Date.now();
    const wasOk = this.#state.health.ok;
    const err = this.#state.save(snapshot(this.#registry, this.#refs));
    if (err && wasOk) this.#log(`${err}; endpoints are kept in memory only`, "error");
    if (!err && !wasOk) this.#log(`state file ${this.#state.path} written again`);
  }

  /** Ask a running `serve()` to return; safe from a signal handler. */
  stop(): void {
    this.#stopping = true;
    if (this.#wakeWrite >= 0) libc().write(this.#wakeWrite, new Uint8Array([1]), 1n);
  }

  /** Serve until `stop()`; then close everything and remove the socket file. */
  async serve(): Promise<void> {
    if (this.#listenFd < 0) this.listen();
    try {
      let slice = POLL_SLICE_MS;
      while (!this.#stopping) {
        const set = this.#pollSet();
        // Wait for requests on this thread (a hop to a worker thread and back
        // would cost more than the request), in slices short enough that
        // signals (handled by the event loop) are seen soon.
        const ready = this.#poll(set, this.#sliceLeft(slice));
        // Requests the wait answered itself count as work too (no yield for them).
        const served = this.#served > 0;
        const busy = ready.length > 0 || served || this.#sources.some((s) => s.pending?.());
        slice = busy ? POLL_SLICE_MS : Math.min(IDLE_SLICE_MS, slice * 2);
        let accept = false;
        for (const { fd, revents, pkt } of ready) {
          if (this.#stopping) break;
          if (fd === this.#listenFd) accept = true;
          // A client closed above (an eviction) is gone from #clients; no
          // new one can have its number before #acceptAll, below.
          const source = set.owners.get(fd);
          if (source) source.handle(fd, revents); // a source checks its own descriptors
          else if (fd !== this.#wakeRead && fd !== this.#listenFd) {
            const client = this.#clients.get(fd);
            if (client) this.#serviceClient(client, revents, pkt);
          }
        }
        // New connections last: their descriptors may reuse numbers closed above.
        if (accept && !this.#stopping) this.#acceptAll();
        // Spares last: the replies of this turn are out.
        if (this.#spares.wanted) this.#spares.refill();
        for (const s of this.#sources) s.tick();
        this.#housekeeping();
        // After the answers, not before them (the request that woke us would
        // wait for the turn), and none right after an accept, unless a full
        // one is long overdue: the new connection's first request is on its way.
        if (!accept || Date.now() - this.#lastFullTurn >= 2 * FULL_TURN_MS) {
          await this.#letEventLoopRun(ready.length === 0 && !served);
        }
      }
    } finally {
      this.#shutdown();
    }
  }

  /**
   * Let the event loop run (signal handlers, the seccomp acceptor's finished
   * accepts): after every idle slice, and every {@link POLL_SLICE_MS} while
   * busy. A full turn is a setTimeout(0), which Deno holds for its timer
   * granularity (2.2 ms measured here) and in which it always reads signals;
   * a quick one, setImmediate, is back in microseconds but may leave a
   * signal for a later turn (about 14 turns, measured). So: full turns when
   * idle and at least every {@link FULL_TURN_MS}, quick ones otherwise (the
   * first request of a new connection, served on waking from an idle slice,
   * paid the 2.2 ms before). Run after a turn's answers (a quick turn after a
   * quiet spell took 0.1-0.3 ms here, a full one 2.2 ms, and the request
   * that woke the broker waited for it).
   */
  async #letEventLoopRun(idle: boolean): Promise<void> {
    const now = Date.now();
    if (idle || now - this.#lastFullTurn >= FULL_TURN_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      this.#lastFullTurn = this.#lastTurn = Date.now();
    } else if (now - this.#lastTurn > POLL_SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      this.#lastTurn = Date.now();
    }
  }

  /**
   * The descriptors to poll besides the clients (they are in the interest
   * list, polled as one descriptor), and which source owned each when the
   * set was made: handling one ready descriptor can close another and a
   * source can reuse its number, and the new owner must not get the old
   * one's events. Made again only when the sources' descriptors changed.
   */
  #pollSet(): PollSet {
    const sourceFds: number[] = [];
    for (const s of this.#sources) sourceFds.push(...s.fds());
    const last = this.#lastSet;
    if (
      last && last.sourceFds.length === sourceFds.length &&
      last.sourceFds.every((fd, i) => fd === sourceFds[i])
    ) return last;
    const owners = new Map<number, PollSource>();
    for (const s of this.#sources) for (const fd of s.fds()) owners.set(fd, s);
    const fds = [this.#wakeRead, this.#listenFd, ...owners.keys(), this.#epfd];
    this.#lastSet = { fds, owners, sourceFds, written: false };
    return this.#lastSet;
  }

  /** Expiries and the state file, at most every {@link HOUSEKEEPING_MS} (spares: when one is due). */
  #housekeeping(): void {
    const now = Date.now();
    this.#spares.expire(now);
    if (this.#dirty && now - this.#savedAt >= SAVE_GAP_MS) this.#flush();
    if (now - this.#lastHousekeeping < HOUSEKEEPING_MS) return;
    this.#lastHousekeeping = now;
    this.#expireIdle();
    this.#maybeGc();
  }

  /** The poll timeout: the slice, cut short where unsaved changes fall due sooner. */
  #sliceLeft(slice: number): number {
    if (!this.#dirty) return slice;
    return Math.max(0, Math.min(slice, SAVE_GAP_MS - (Date.now() - this.#savedAt)));
  }

  /**
   * poll() into a buffer kept across turns (a request must not cost an
   * allocation here; the descriptors are written again only when the set
   * changed), polled without blocking first while requests come quickly
   * (see {@link SPIN_US}); meanwhile the client served last is read
   * directly, and its request comes back with it.
   */
  #poll(set: PollSet, timeoutMs: number): Ready[] {
    const fds = set.fds;
    if (this.#pollBuf.length < 8 * fds.length) {
      this.#pollBuf = new Uint8Array(16 * fds.length);
      this.#pollView = new DataView(this.#pollBuf.buffer);
      set.written = false;
    }
    const v = this.#pollView;
    if (!set.written) {
      for (let i = 0; i < fds.length; i++) {
        v.setInt32(8 * i, fds[i], true);
        v.setInt32(8 * i + 4, C.POLLIN, true); // events, and revents cleared
      }
      set.written = true;
    }
    // Only a thread waiting for one socket is worth spinning for: a stock
    // refill's thread is not waiting, and its refills come a while apart.
    const single = this.#lastOp === P.Op.SOCKET;
    const hot = single && this.#hot && this.#clients.get(this.#hot.fd) === this.#hot
      ? this.#hot
      : undefined;
    const wait = hot ? { fd: hot.fd, buf: this.#scratch, wantUnread: hot.inflight > 0 } : undefined;
    const window = single ? this.#opts.spinUs : 0;
    const n = waitReady(this.#pollBuf, fds.length, timeoutMs, window, this.#epfd, wait);
    this.#served = hot ? waitServed() : 0;
    if (this.#served > 0) this.#servedFast(hot!, this.#served);
    const batches = waitBatches();
    if (batches > 0) this.#servedBatches();
    this.#served += batches;
    const out: Ready[] = [];
    if (hot) {
      let pkt;
      try {
        pkt = hotRequest(this.#scratch);
      } catch {
        pkt = null; // a failed read closes the connection, as its end does
      }
      if (pkt !== false) out.push({ fd: hot.fd, revents: 0, pkt });
    }
    if (n < 0) return out;
    for (let i = 0; n > 0 && i < fds.length; i++) {
      const revents = v.getInt16(8 * i + 6, true);
      if (revents) out.push({ fd: fds[i], revents });
    }
    for (const [fd, revents] of readyClients()) out.push({ fd, revents });
    return out;
  }

  #shutdown(): void {
    for (const s of this.#sources) s.close();
    this.#dropPrepared();
    this.#flush();
    for (const c of this.#clients.values()) {
      fastRevoke(c.fd);
      closeFd(c.fd);
    }
    this.#clients.clear();
    this.#perUid.clear();
    closeFd(this.#epfd);
    this.#epfd = -1;
    this.#registry.clear();
    closeFd(this.#listenFd);
    closeFd(this.#defaultTargetFd);
    closeFd(this.#wakeRead);
    closeFd(this.#wakeWrite);
    closeFd(this.#homeFd);
    this.#homeFd = -1;
    this.#listenFd =
      this.#defaultTargetFd =
      this.#wakeRead =
      this.#wakeWrite =
        -1;
    // An activated socket is the service manager's: it stays for the next start.
    if (this.#opts.listenFd === undefined) {
      try {
        Deno.removeSync(this.#opts.socketPath);
      } catch { /* already gone */ }
    }
    this.#log("stopped");
  }

  #acceptAll(): void {
    for (let i = 0; i < 64; i++) {
      let fd: number | undefined;
      try {
        fd = acceptNonblock(this.#listenFd);
      } catch (e) {
        // Out of descriptors (EMFILE/ENFILE): make room and try again next round.
        this.#log(`accept: ${(e as Error).message}; closing the longest idle client`);
        this.#evictIdlest();
        return;
      }
      if (fd === undefined) return;
      this.#admit(fd);
      // Its first request is usually here already (sent right after the
      // connect): served now, not after another poll round.
      const client = this.#clients.get(fd);
      if (client) this.#serviceClient(client, 0);
    }
  }

  /** Take on an accepted connection (closed again when it cannot be). */
  #admit(fd: number): void {
    try {
      const cred = peerCred(fd);
      this.#makeRoom(cred.uid);
      const nsKey = String(socketNetnsCookie(fd));
      this.#clients.set(fd, { fd, cred, nsKey, inflight: 0, unread: 0, lastActive: Date.now() });
      this.#countUid(cred.uid, 1);
      try {
        waitAdd(this.#epfd, fd);
      } catch {
        this.#clients.delete(fd);
        this.#countUid(cred.uid, -1);
        throw new Error("epoll_ctl");
      }
    } catch {
      this.#closeFd(fd);
    }
  }

  /** Close the idlest connection of the uid that holds the most (to admit a new one). */
  #evictIdlest(): void {
    const victim = pickEviction(this.#clients.values());
    if (victim) this.#closeClient(victim.fd);
  }

  /** Admit one more connection of `uid`: within the uid's share, and within --max. */
  #makeRoom(uid: number): void {
    // Counted, so that an accept does not walk every client; walked only to evict.
    if ((this.#perUid.get(uid) ?? 0) >= perUidLimit(this.#opts.maxClients)) {
      const victim = pickEviction([...this.#clients.values()].filter((c) => c.cred.uid === uid));
      if (victim) this.#closeClient(victim.fd);
    }
    if (this.#clients.size >= this.#opts.maxClients) this.#evictIdlest();
  }

  /** Keep #perUid: `delta` connections of `uid` (a uid with none has no entry). */
  #countUid(uid: number, delta: number): void {
    const n = (this.#perUid.get(uid) ?? 0) + delta;
    if (n > 0) this.#perUid.set(uid, n);
    else this.#perUid.delete(uid);
  }

  #closeClient(fd: number): void {
    const client = this.#clients.get(fd);
    if (client) {
      this.#setInflight(client, 0);
      this.#countUid(client.cred.uid, -1);
    }
    this.#clients.delete(fd);
    fastRevoke(fd); // no other connection that gets its number may use its grants
    batchRevoke(fd);
    waitDel(this.#epfd, fd); // before the close, which may finish on another thread
    this.#closeFd(fd);
  }

  /**
   * Close a client's socket or a descriptor it sent. Without SO_PASSRIGHTS a
   * client could have sent one whose last close blocks (SO_LINGER, FUSE), and
   * closing its socket drops descriptors still queued in it: then the close
   * runs on another thread.
   */
  #closeFd(fd: number): void {
    if (this.#passRights && fd >= 0) void libc().close_nb(fd);
    else closeFd(fd);
  }

  /** The client's capabilities, read once per connection through a pidfd. */
  #caps(client: Client): PeerCaps {
    client.caps ??= (() => {
      try {
        return peerCaps(client.fd, client.cred.pid, client.cred.uid);
      } catch {
        return NO_CAPS;
      }
    })();
    return client.caps;
  }

  #expireIdle(): void {
    const now = Date.now();
    for (const c of this.#clients.values()) {
      if (now - c.lastActive > this.#opts.idleMs) this.#closeClient(c.fd);
    }
  }

  /**
   * One packet per wakeup: a client with more queued is ready again at the
   * next poll, after the others (no read that finds nothing after a graft).
   */
  #serviceClient(client: Client, revents: number, read?: Request | null | undefined): void {
    const fd = client.fd;
    // A client that hung up wants no answers: its queued requests are not worth serving.
    if (revents & C.POLLHUP) {
      this.#closeClient(fd);
      return;
    }
    let pkt;
    try {
      // One call: the packet, its descriptors and, while a reply of ours
      // is out, whether the client has read it (#oneAtATime); or the
      // packet the wait read already (the hot client's).
      pkt = read !== undefined ? read : recvRequest(fd, this.#scratch, client.inflight > 0);
    } catch {
      this.#closeClient(fd);
      return;
    }
    if (pkt === null) {
      this.#closeClient(fd);
      return;
    }
    if (pkt === undefined) {
      if (revents & (C.POLLHUP | C.POLLERR | C.POLLNVAL)) this.#closeClient(fd);
      return;
    }
    client.lastActive = Date.now();
    client.unread = pkt.unread;
    const keep = this.#handlePacket(client, pkt.data, pkt.fds, pkt.truncated);
    for (const f of pkt.fds) this.#closeFd(f); // whatever was not adopted
    if (!keep) this.#closeClient(fd);
    else this.#hot = client;
  }

  /** Handle one packet; returns false when the connection should be closed. */
  #handlePacket(client: Client, data: Uint8Array, fds: number[], truncated: boolean): boolean {
    this.stats.requests++;
    const hdr = P.getHeader(data);
    this.#lastOp = typeof hdr === "string" ? 0 : hdr.op;
    if (typeof hdr === "string" || truncated) {
      this.stats.malformed++;
      const why = truncated ? "packet too long" : `bad header (${hdr})`;
      this.#trace(() => `pid ${client.cred.pid}: ${why}; closing`);
      if (hdr === "version" || hdr === "length" || truncated) {
        // The header was readable enough to answer in kind.
        const { op, seq } = P.peekHeader(data);
        this.#reply(
          client.fd,
          op,
          seq,
          Errno.EPROTO,
          `broker speaks protocol version ${P.VERSION}: ${why}`,
        );
      }
      return false;
    }
    try {
      switch (hdr.op) {
        case P.Op.SOCKET:
        case P.Op.SOCKETS:
          return this.#handleSocket(client, data, hdr);
        case P.Op.EP_ADD:
        case P.Op.EP_DEL:
        case P.Op.EP_LIST:
        case P.Op.STATUS:
        case P.Op.MAP_ADD:
        case P.Op.MAP_DEL:
        case P.Op.MAP_LIST:
        case P.Op.GC:
          return this.#handleJson(client, data, hdr, fds);
        default:
          this.stats.malformed++;
          this.#reply(client.fd, hdr.op, hdr.seq, Errno.EINVAL, `unknown operation ${hdr.op}`);
          return false;
      }
    } catch (e) {
      // A bug or an unexpected system error: answer, log, keep serving others.
      this.#log(`pid ${client.cred.pid}: internal error: ${(e as Error).message}`);
      this.#reply(
        client.fd,
        hdr.op,
        hdr.seq,
        Errno.EPROTO,
        `broker error: ${(e as Error).message}`,
      );
      return false;
    }
  }

  #reply(fd: number, op: number, seq: number, status: number, msg: string): void {
    try {
      const pkt = op === P.Op.SOCKET || op === P.Op.SOCKETS
        ? P.encodeSockResponse(seq, status, 0, new Uint8Array(0), msg, op)
        : P.encodeJson(op, seq, { ok: false, errno: status, error: msg });
      sendPacket(fd, pkt, [], C.MSG_DONTWAIT);
    } catch { /* the client went away */ }
  }

  // ---- GRAFT_OP_SOCKET, GRAFT_OP_SOCKETS -------------------------------------

  /**
   * A grafted socket (GRAFT_OP_SOCKET), or several client sockets bound to a
   * `port dynamic` endpoint's address with no port reserved, for the
   * preload's stock (GRAFT_OP_SOCKETS). Returns false to close the client.
   */
  #handleSocket(client: Client, data: Uint8Array, hdr: P.Header): boolean {
    const batch = hdr.op === P.Op.SOCKETS;
    const r = batch ? P.decodeSocksRequest(data, hdr) : P.decodeSockRequest(data, hdr);
    if (typeof r === "string") {
      this.stats.malformed++;
      this.#reply(client.fd, hdr.op, hdr.seq, Errno.EINVAL, r);
      return false;
    }
    const { req, count } = "count" in r ? r : { req: r, count: 1 };
    try {
      this.#oneAtATime(client);
      if (batch) checkBatchRequest(this.#lookup(client, req.ep).ep, req);
      // Made, sent and closed in one call; a refusal is answered below.
      const reply = { fd: client.fd, seq: hdr.seq, op: hdr.op };
      const n = batch ? this.#withinQuota(client, count) : 1;
      this.#packet = batch ? undefined : data;
      const made = this.#graft(client, req, n, reply);
      this.#packet = undefined;
      if (made.sent === Errno.EAGAIN) { // the client's queue is full
        this.stats.refused++;
        return true;
      }
      if (made.sent !== 0) return false; // the client went away
      this.#setInflight(client, made.fds.length);
      this.stats.sockets += made.fds.length;
      if (batch && made.fds.length === count) this.#grantBatch(client, data);
      this.#trace(() =>
        `pid ${client.cred.pid}: ${req.ep} -> ${formatSockaddr(decodeSockaddr(made.addr))}` +
        (batch ? ` (${made.fds.length} sockets)` : "")
      );
    } catch (e) {
      this.#packet = undefined;
      this.stats.refused++;
      const status = errnoOf(e, Errno.EPROTO);
      this.#countRefusal(status);
      const msg = (e as Error).message;
      this.#trace(() => `pid ${client.cred.pid}: refused ${req.ep}: ${msg}`);
      this.#reply(client.fd, hdr.op, hdr.seq, status, msg);
    }
    return true;
  }

  #countRefusal(errno: number): void {
    const name = errnoName(errno);
    this.refusedBy[name] = (this.refusedBy[name] ?? 0) + 1;
  }

  /** Serve `source` on the broker's thread too. */
  attach(source: PollSource): void {
    this.#sources.push(source);
  }

  /** Whether the namespace with key `nsKey` has endpoints. */
  hasEndpoints(nsKey: string): boolean {
    return (this.#registry.get(nsKey)?.endpoints.size ?? 0) > 0;
  }

  /** The default mappings of the namespace with key `nsKey` (`graft map`), canonical text. */
  mapsOf(nsKey: string): NamespaceMaps {
    return this.#registry.get(nsKey)?.maps ?? emptyMaps();
  }

  /**
   * Graft for the seccomp engine: the namespace is the one the program's
   * socket lives in, `cred` the program's; same checks and socket as for libgraft.
   */
  graftFor(nsKey: string, cred: PeerCred, req: Omit<P.SockRequest, "hdr">): { fd: number } {
    const client: Client = { fd: -1, cred, nsKey, inflight: 0, unread: 0, lastActive: 0 };
    const made = this.#graft(client, {
      ...req,
      hdr: { op: P.Op.SOCKET, seq: 0, len: 0, version: P.VERSION },
    }, 1);
    return { fd: made.fds[0] };
  }

  /**
   * One outstanding reply per connection: a request that arrives before the
   * client has taken the descriptors of the previous reply is refused, so a
   * client that never reads holds at most one reply's worth of host sockets.
   */
  #oneAtATime(client: Client): void {
    if (client.inflight > 0 && client.unread > 0) {
      throw new Refusal(Errno.EAGAIN, "the reply to this connection's previous request is unread");
    }
    this.#setInflight(client, 0);
  }

  /** Set a client's inflight count, and its namespace's (#held) with it. */
  #setInflight(client: Client, n: number): void {
    if (n === client.inflight) return;
    let ns = this.#held.get(client.nsKey);
    if (!ns) this.#held.set(client.nsKey, ns = { total: 0, by: new Set() });
    ns.total += n - client.inflight;
    client.inflight = n;
    if (n > 0) ns.by.add(client);
    else if (ns.by.delete(client) && ns.by.size === 0) this.#held.delete(client.nsKey);
  }

  /**
   * How many sockets of a batch to hand out: undelivered sockets of one
   * namespace stay under NS_INFLIGHT_MAX (one is always allowed, so a client
   * is never refused outright; its connections are bounded per uid).
   */
  #withinQuota(client: Client, count: number): number {
    // What the namespace could hold at most, from the counts alone: when even
    // that leaves room, asking each connection what it has read changes nothing.
    const ns = this.#held.get(client.nsKey);
    if (!ns || ns.total + count <= NS_INFLIGHT_MAX) return count;
    // Near the limit: the count below must hold until the next request, so
    // no connection may be sent a batch in the wait meanwhile.
    batchRevokeAll();
    let held = 0;
    for (const c of [...ns.by]) {
      if (unreadBytes(c.fd) === 0) this.#setInflight(c, 0);
      else held += c.inflight;
    }
    return Math.max(1, Math.min(count, NS_INFLIGHT_MAX - held));
  }

  /** The caller's endpoint of that name, or a refusal naming it. */
  #lookup(client: Client, name: string): StoredEndpoint {
    return this.#registry.lookup(client.nsKey, name);
  }

  /**
   * Create, configure and bind the real sockets for a request (policy first):
   * `count` of them, or fewer when one fails after the first.
   */
  #graft(client: Client, req: P.SockRequest, count: number, reply?: ReplyTo): GraftedBatch {
    const stored = this.#lookup(client, req.ep);
    checkSocketRequest(req);
    // Sockets for the broker's own namespace (the usual host target) need no switch.
    const where: NetnsSwitch | undefined = stored.targetKey === this.#homeKey
      ? undefined
      : { target: stored.targetFd, home: this.#homeFd };
    checkGrant(
      stored.ep,
      req,
      () => this.#caps(client),
      () => unprivilegedPortStart(where?.target),
    );
    const plan = planSocket(stored.ep, req);
    const owner = client.cred.uid;
    if (count === 1 && preparable(plan, req)) {
      return this.#graftPrepared(client, stored.targetKey, plan, req, where, reply);
    }
    if (!where || count !== 1 || plan.family === C.AF_UNIX) {
      return makeBoundSockets(plan, req, where, owner, count, reply);
    }
    // A single graft into another namespace takes a spare of its kind; the
    // last one taken, more are made after the turn (one switch for them all).
    const kind = Spares.kind(stored.targetKey, plan.family, req.type, plan.protocol, owner);
    const given = this.#spares.take(kind);
    if (this.#spares.left(kind) === 0) {
      const make = (n: number) => makeSpareSockets(plan, req, where, owner, n);
      this.#spares.want(kind, SPARES_PER_SWITCH, this.#spareMaker(plan, make));
    }
    return makeBoundSockets(plan, req, where, owner, count, reply, { given });
  }

  /**
   * A client socket with port 0: a prepared spare of its kind (target,
   * family, type, protocol, owner and the endpoint's plan) when there is
   * one, else made now; a kind running low is refilled after the turn
   * (a kind seen for the first time gets a few, one in use more).
   */
  #graftPrepared(
    client: Client,
    targetKey: string,
    plan: SocketPlan,
    req: P.SockRequest,
    where: NetnsSwitch | undefined,
    reply?: ReplyTo,
  ): GraftedBatch {
    const owner = client.cred.uid;
    const kind = preparedKind(targetKey, plan, req.type, owner);
    const given = this.#spares.take(kind);
    const make = this.#spareMaker(
      plan,
      (count) => makeBoundSockets(plan, req, where, owner, count).fds,
    );
    if (this.#spares.left(kind) <= PREPARED_LOW) {
      if (given === undefined) this.#spares.want(kind, PREPARED_FIRST, make);
      else this.#spares.wantMore(kind, make);
    }
    const reuse = given === undefined ? {} : { given, ready: true };
    const made = makeBoundSockets(plan, req, where, owner, 1, reply, reuse);
    if (made.sent === 0 && reply?.op === P.Op.SOCKET) {
      this.#grantFast(client, kind, make, made, plan);
    }
    return made;
  }

  /** `make` for spares of `plan`: a failure is traced and makes none (the request it serves is answered anyway). */
  #spareMaker(plan: SocketPlan, make: SpareMaker): SpareMaker {
    return (count) => {
      try {
        return make(count);
      } catch (e) {
        this.#trace(() => `spares for ${plan.what}: ${(e as Error).message}`);
        return [];
      }
    };
  }

  /**
   * The request just answered (this.#packet), asked again on this
   * connection, may be answered by the wait with a prepared spare of its
   * kind (native/fast.c): it passed every check, and nothing it was checked
   * against can change without the spares of every kind being dropped, which
   * withdraws the grant (endpoints or namespaces changed, reload, expiry,
   * stop), nor without the connection being closed, which withdraws it too.
   */
  #grantFast(
    client: Client,
    kind: string,
    make: SpareMaker,
    made: GraftedBatch,
    plan: SocketPlan,
  ): void {
    const packet = this.#packet;
    if (!packet || client.fd < 0) return;
    const id = this.#spares.lend(kind);
    if (id === undefined) return;
    // An address other than the plan's was read back (a UDP port the kernel
    // picked): each spare's is its own, read back as it is handed out.
    const own = made.addr.length !== plan.sa.length || made.addr.some((b, i) => b !== plan.sa[i]);
    if (fastGrant(client.fd, packet, id, made.family, made.addr, own)) client.fast = { kind, make };
  }

  /** The wait answered `served` requests of `client` (its grant): count them, refill their kind. */
  #servedFast(client: Client, served: number): void {
    this.stats.requests += served;
    this.stats.sockets += served;
    this.stats.fast += served;
    this.#setInflight(client, 1);
    client.unread = 0;
    client.lastActive = Date.now();
    const fast = client.fast;
    if (fast && this.#spares.left(fast.kind) <= PREPARED_LOW) {
      this.#spares.wantMore(fast.kind, fast.make);
    }
  }

  /**
   * The stock refill just made and sent for `client` (`packet`, a full
   * batch), asked again on this connection, may be made and sent by the
   * wait (native/batch.c) with the same plan: it passed every check, and
   * nothing it was checked against can change without every grant being
   * withdrawn (#dropPrepared), nor without the connection being closed. The
   * client stays counted as holding a whole batch (#setInflight), which the
   * wait never exceeds: it sends the next only once this one was read. Not
   * when tracing: the wait leaves no trace line.
   */
  #grantBatch(client: Client, packet: Uint8Array): void {
    if (this.#opts.verbose || client.fd < 0) return;
    batchGrant(client.fd, packet);
  }

  /** Count what the last wait sent under refill grants, per connection. */
  #servedBatches(): void {
    const now = Date.now();
    for (const { fd, batches, sockets, unsent } of batchDrain()) {
      this.stats.requests += batches + unsent;
      this.stats.sockets += sockets;
      this.stats.fast += batches;
      this.stats.refused += unsent; // the client's queue was full, as in #handleSocket
      const client = this.#clients.get(fd);
      if (client) client.lastActive = now;
    }
  }

  /**
   * Endpoints or namespaces changed (or the broker stops): prepared spares
   * and every grant made on them, and every refill grant, go.
   */
  #dropPrepared(): void {
    this.#spares.clear();
    batchRevokeAll();
  }

  // ---- endpoint management (JSON) -------------------------------------------

  /** Answer a JSON request with `{ ok: true, ...v }`. */
  #answer(req: JsonRequest, v: Record<string, unknown>): void {
    const pkt = P.encodeJson(req.hdr.op, req.hdr.seq, { ok: true, ...v });
    // A big reply (a status of thousands of endpoints) needs a send buffer to
    // match, past net.core.wmem_max if need be (the broker has CAP_NET_ADMIN).
    if (pkt.length > 16_000) {
      const size = pkt.length + 65536;
      try {
        setIntOpt(req.client.fd, C.SOL_SOCKET, C.SO_SNDBUFFORCE, size);
      } catch {
        setIntOpt(req.client.fd, C.SOL_SOCKET, C.SO_SNDBUF, size);
      }
    }
    if (!sendPacket(req.client.fd, pkt, [], C.MSG_DONTWAIT)) {
      throw new Refusal(Errno.EMSGSIZE, "reply too large");
    }
  }

  /** Decode a JSON request and pair its descriptors with their labels; false to close. */
  #handleJson(client: Client, data: Uint8Array, hdr: P.Header, fds: number[]): boolean {
    const body = P.decodeJson(data);
    if (!body) {
      this.stats.malformed++;
      this.#reply(client.fd, hdr.op, hdr.seq, Errno.EINVAL, "request body is not a JSON object");
      return false;
    }
    const labels = Array.isArray(body.fds) ? body.fds : [];
    if (labels.length !== fds.length) {
      const msg = "descriptor labels do not match descriptors";
      this.#reply(client.fd, hdr.op, hdr.seq, Errno.EINVAL, msg);
      return true;
    }
    const req: JsonRequest = { client, hdr, body, fds, labels, actKey: "" };
    // An administrator's later requests may carry namespace descriptors.
    if (isAdmin(this.#caps(client)) && !this.#passRights) setPassRights(client.fd, true);
    try {
      req.actKey = this.#actingNamespace(req);
      this.#jsonOps[hdr.op]?.(req);
    } catch (e) {
      const status = errnoOf(e, Errno.EINVAL);
      this.#countRefusal(status);
      this.#reply(client.fd, hdr.op, hdr.seq, status, (e as Error).message);
    }
    return true;
  }

  /** The namespace a request acts in: the one an administrator names ("act"), else the caller's own. */
  #actingNamespace(req: JsonRequest): string {
    const actFd = isAdmin(this.#caps(req.client)) ? fdFor(req, "act") : undefined;
    return actFd !== undefined ? namespaceKey(actFd) : req.client.nsKey;
  }

  readonly #jsonOps: Record<number, (req: JsonRequest) => void> = {
    [P.Op.EP_LIST]: (req) => this.#epList(req),
    [P.Op.EP_ADD]: (req) => this.#epAdd(req),
    [P.Op.EP_DEL]: (req) => this.#epDel(req),
    [P.Op.STATUS]: (req) => this.#status(req),
    [P.Op.MAP_ADD]: (req) => this.#mapAdd(req),
    [P.Op.MAP_DEL]: (req) => this.#mapDel(req),
    [P.Op.MAP_LIST]: (req) => this.#mapList(req),
    [P.Op.GC]: (req) => this.#gc(req),
  };

  /** The path to open the acting namespace through (checked against actKey on adoption). */
  #actPath(req: JsonRequest): string {
    const actFd = isAdmin(this.#caps(req.client)) ? fdFor(req, "act") : undefined;
    return actFd !== undefined ? `/proc/self/fd/${actFd}` : `/proc/${req.client.cred.pid}/ns/net`;
  }

  #mapAdd(req: JsonRequest): void {
    requireAdmin(this.#caps(req.client), "adding mappings");
    const kind = mapKindOf(req.body.kind);
    const text = canonicalMapping(kind, String(req.body.mapping ?? ""));
    const ns = this.#registry.addMapping(req.actKey, this.#actPath(req), kind, text);
    this.#trace(() => `map add ${kind} ${text} (ns ${ns.ino})`);
    this.#persist();
    this.#answer(req, { kind, mapping: text });
  }

  #mapDel(req: JsonRequest): void {
    requireAdmin(this.#caps(req.client), "deleting mappings");
    const kind = mapKindOf(req.body.kind);
    const text = canonicalMapping(kind, String(req.body.mapping ?? ""));
    const ino = this.#registry.deleteMapping(req.actKey, kind, text);
    this.#trace(() => `map del ${kind} ${text} (ns ${ino})`);
    this.#persist();
    this.#answer(req, {});
  }

  /** A namespace's mappings; also in the environment variables' syntax, for libgraft. */
  #mapList(req: JsonRequest): void {
    const maps = this.#registry.get(req.actKey)?.maps ?? emptyMaps();
    this.#answer(req, {
      maps,
      ingress_env: maps.ingress.join(","),
      egress_env: maps.egress.join(","),
    });
  }

  #gc(req: JsonRequest): void {
    requireAdmin(this.#caps(req.client), "collecting namespaces");
    this.#answer(req, { dropped: this.collectGarbage() });
  }

  #epList(req: JsonRequest): void {
    const ns = this.#registry.get(req.actKey);
    this.#answer(req, { endpoints: ns ? [...ns.endpoints.values()].map((s) => s.ep) : [] });
  }

  #epAdd(req: JsonRequest): void {
    requireAdmin(this.#caps(req.client), "adding endpoints");
    const ep = endpointFromJson(req.body.endpoint);
    const nsPath = this.#actPath(req);
    // Adopt the target descriptor (or hold our own copy of the default).
    const tfd = fdFor(req, "target");
    const targetFd = tfd ?? openFd(`/proc/self/fd/${this.#defaultTargetFd}`);
    let ns;
    try {
      ns = this.#registry.add(req.actKey, nsPath, ep, targetFd);
    } catch (e) {
      if (tfd === undefined) closeFd(targetFd);
      throw e;
    }
    if (tfd !== undefined) req.fds.splice(req.fds.indexOf(tfd), 1);
    this.#dropPrepared(); // a redefined endpoint's prepared spares are bound to its old address
    this.#trace(() => `add ${formatEndpoint(ep)} (ns ${ns.ino})`);
    this.#persist();
    this.#answer(req, { endpoint: ep });
  }

  #epDel(req: JsonRequest): void {
    requireAdmin(this.#caps(req.client), "deleting endpoints");
    const name = String(req.body.name ?? "");
    const ino = this.#registry.delete(req.actKey, name);
    this.#dropPrepared(); // none may keep a namespace alive that is no longer a target
    this.#trace(() => `del ${name} (ns ${ino})`);
    this.#persist();
    this.#answer(req, {});
  }

  #status(req: JsonRequest): void {
    requireAdmin(this.#caps(req.client), "broker status");
    this.#answer(req, {
      pid: Deno.pid,
      version: P.VERSION,
      stats: this.stats,
      refusedBy: this.refusedBy,
      uptimeMs: Date.now() - this.#startedAt,
      clients: this.#clients.size,
      activated: this.#opts.listenFd !== undefined,
      state: this.#state?.health ?? null,
      namespaces: [...this.#registry.namespaces()].map((ns) => ({
        ino: ns.ino,
        endpoints: [...ns.endpoints.values()].map((s) => s.ep),
        maps: ns.maps,
      })),
    });
  }

  /**
   * Forget the endpoints of namespaces nobody else uses any more: no process
   * in them and no bind mount (such as /run/netns/NAME) keeping them.
   */
  #maybeGc(): void {
    const now = Date.now();
    if (now - this.#lastGc < this.#opts.gcMs) return;
    this.#lastGc = now;
    this.collectGarbage();
  }

  /** Run the namespace garbage collection now; returns how many namespaces were dropped. */
  collectGarbage(): number {
    const dropped = this.#registry.collectGarbage();
    for (const ns of dropped) {
      this.#log(`namespace ${ns.ino} is gone; forgot its ${ns.endpoints.size} endpoint(s)`);
    }
    if (dropped.length) {
      this.#dropPrepared();
      this.#persist();
    }
    return dropped.length;
  }

  /** Undelivered sockets (sent, not yet read) per namespace that holds any, as counted for the quota (for tests). */
  get undelivered(): number[] {
    return [...this.#held.values()].map((ns) => ns.total);
  }

  /** Number of namespaces and endpoints held (for tests). */
  get size(): { namespaces: number; endpoints: number } {
    return this.#registry.size;
  }
}

/**
 * Whether a single socket for `req` is the same for every such request, so
 * it can be made ahead: an ip client socket (TCP or UDP) with port 0 and no
 * options of the application's, bound to the plan's address.
 */
function preparable(plan: SocketPlan, req: P.SockRequest): boolean {
  if (plan.family === C.AF_UNIX || plan.listen || req.opts.length !== 0) return false;
  if (req.type !== C.SOCK_STREAM && req.type !== C.SOCK_DGRAM) return false;
  return plan.sa[2] === 0 && plan.sa[3] === 0;
}

/** The last prepared kind of each plan (a plan is made once per endpoint and request shape). */
const kinds = new WeakMap<SocketPlan, { target: string; owner: number; kind: string }>();
let lastPlanId = 0;

/**
 * The kind of a prepared socket: the spare kind (target, family, type,
 * protocol, owner) and the plan it was made by (the endpoint's address and
 * graft's options). Kept per plan: the same client asks again and again.
 */
function preparedKind(target: string, plan: SocketPlan, type: number, owner: number): string {
  const last = kinds.get(plan);
  if (last && last.target === target && last.owner === owner) return last.kind;
  const id = last ? last.kind.slice(last.kind.lastIndexOf("/") + 1) : String(++lastPlanId);
  const kind = `${Spares.kind(target, plan.family, type, plan.protocol, owner)}/${id}`;
  kinds.set(plan, { target, owner, kind });
  return kind;
}

/** A JSON request being served. */
interface JsonRequest {
  client: Client;
  hdr: P.Header;
  body: Record<string, unknown>;
  /** Descriptors that came with it (those still here are closed afterwards). */
  fds: number[];
  /** What each descriptor is ("act", "target"). */
  labels: unknown[];
  /** The namespace it acts in. */
  actKey: string;
}

function fdFor(req: JsonRequest, label: string): number | undefined {
  const i = req.labels.indexOf(label);
  return i >= 0 ? req.fds[i] : undefined;
}

/**
 * A listening socket passed by the service manager: it must be a listening
 * SOCK_SEQPACKET Unix socket (ListenSequentialPacket= in graft.socket).
 * Made non-blocking and close-on-exec, as the broker's own would be.
 */
function adoptListener(fd: number): number {
  const int = (name: number) => {
    const v = new Uint8Array(4);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, 4, true);
    check("getsockopt", libc().getsockopt(fd, C.SOL_SOCKET, name, v, len), `descriptor ${fd}`);
    return new DataView(v.buffer).getInt32(0, true);
  };
  if (int(C.SO_TYPE) !== C.SOCK_SEQPACKET || int(C.SO_ACCEPTCONN) !== 1) {
    throw new Error(
      `descriptor ${fd} from the service manager is not a listening SOCK_SEQPACKET socket ` +
        "(use ListenSequentialPacket= in the socket unit)",
    );
  }
  const flags = check("fcntl", libc().fcntl(fd, C.F_GETFL, 0n));
  check("fcntl", libc().fcntl(fd, C.F_SETFL, BigInt(flags | C.O_NONBLOCK)));
  check("fcntl", libc().fcntl(fd, C.F_SETFD, 1n /* FD_CLOEXEC */));
  return fd;
}

/**
 * The default target namespace: the initial one (PID 1's), or the broker's
 * own where PID 1 cannot be inspected (some sandboxes hide it).
 */
function openDefaultTarget(log: (line: string) => void): number {
  try {
    return openFd("/proc/1/ns/net");
  } catch (e) {
    log(
      `cannot open PID 1's namespace (${(e as Error).message}); default target is the broker's own`,
    );
    return openFd("/proc/self/ns/net");
  }
}

/** Let the broker use as many descriptors as the hard limit allows (one per client and endpoint). */
function raiseFileLimit(): void {
  const RLIMIT_NOFILE = 7;
  const lim = new BigUint64Array(2);
  const b = new Uint8Array(lim.buffer);
  if (libc().getrlimit(RLIMIT_NOFILE, b) !== 0) return;
  if (lim[0] < lim[1]) {
    lim[0] = lim[1];
    libc().setrlimit(RLIMIT_NOFILE, b);
  }
}
