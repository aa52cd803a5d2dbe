/**
 * The broker: `graft daemon`. It keeps endpoints per client network
 * namespace and, on request from the preload library, creates the real socket
 * in the endpoint's target namespace, binds it to the endpoint's address and
 * passes the bound descriptor back over SCM_RIGHTS.
 *
 * The client's namespace comes from its credentials (SO_PEERCRED), never from
 * the request, so a container can only use the endpoints defined in it. The
 * broker binds before handing over: a container never holds an unbound
 * host-namespace socket it could bind anywhere.
 *
 * @module
 */

import { formatSockaddr, parseIPv4, parseIPv6 } from "../model/addr.ts";
import { decodeSockaddr, sockaddrIn, sockaddrIn6, sockaddrUn } from "../sys/sockaddr.ts";
import { type Endpoint, endpointFromJson, formatEndpoint } from "../model/endpoint.ts";
import { C, check, closeFd, Errno, errno, libc, openFd, strerror, SysError } from "../sys/ffi.ts";
import { netnsIdOfFd, netnsIdOfPath, netnsIdOfPid, netnsKey, withNetns } from "../sys/netns.ts";
import * as P from "./proto.ts";
import {
  acceptNonblock,
  type PeerCred,
  peerCred,
  pollNow,
  recvPacket,
  sendPacket,
  seqpacketListen,
  setIntOpt,
} from "../sys/unix.ts";

/** Longest time the broker's thread waits in poll() before letting the event loop run. */
const POLL_SLICE_MS = 20;

/** Options for {@link Broker}. */
export interface BrokerOptions {
  /** Socket path to listen on. */
  socketPath: string;
  /** Called with one line per event when set: start, stop and trouble. */
  log?: (line: string) => void;
  /** Also log every request (endpoint changes, grafts, refusals). */
  verbose?: boolean;
  /** Close clients idle for this long (ms). Default 10 s. */
  idleMs?: number;
  /** How often to forget endpoints of namespaces that no longer exist (ms). Default 10 s. */
  gcMs?: number;
  /** Most clients connected at once; the longest idle is closed to admit another. Default 4096. */
  maxClients?: number;
}

interface StoredEndpoint {
  ep: Endpoint;
  /** Identity of the target namespace. */
  targetKey: string;
  /** Descriptor of the target namespace; the broker holds it while the endpoint exists. */
  targetFd: number;
}

interface NsEntry {
  key: string;
  ino: number;
  /** Held so the namespace's identity cannot be reused while endpoints refer to it. */
  fd: number;
  endpoints: Map<string, StoredEndpoint>;
}

interface Client {
  fd: number;
  cred: PeerCred;
  /** The peer's namespace when it connected (from its credentials), or undefined if gone. */
  nsKey: string | undefined;
  lastActive: number;
}

/** Socket options the broker applies before bind; anything else is left to the application. */
const ALLOWED_OPTS = new Set([
  `${C.SOL_SOCKET}:${C.SO_REUSEADDR}`,
  `${C.SOL_SOCKET}:${C.SO_REUSEPORT}`,
  `${C.SOL_SOCKET}:${C.SO_KEEPALIVE}`,
  `${C.SOL_SOCKET}:${C.SO_BROADCAST}`,
  `${C.SOL_SOCKET}:${C.SO_SNDBUF}`,
  `${C.SOL_SOCKET}:${C.SO_RCVBUF}`,
  `${C.SOL_SOCKET}:${C.SO_LINGER}`,
  `${C.SOL_SOCKET}:${C.SO_RCVTIMEO}`,
  `${C.SOL_SOCKET}:${C.SO_SNDTIMEO}`,
  `${C.IPPROTO_IP}:${C.IP_TOS}`,
  `${C.IPPROTO_IP}:${C.IP_TTL}`,
  `${C.IPPROTO_IPV6}:${C.IPV6_V6ONLY}`,
  `${C.IPPROTO_IPV6}:${C.IPV6_TCLASS}`,
  `${C.IPPROTO_TCP}:${C.TCP_NODELAY}`,
  `${C.IPPROTO_TCP}:${C.TCP_KEEPIDLE}`,
  `${C.IPPROTO_TCP}:${C.TCP_KEEPINTVL}`,
  `${C.IPPROTO_TCP}:${C.TCP_KEEPCNT}`,
]);
/** The subset that makes sense on a Unix socket. */
const UNIX_OPTS = new Set([
  `${C.SOL_SOCKET}:${C.SO_SNDBUF}`,
  `${C.SOL_SOCKET}:${C.SO_RCVBUF}`,
  `${C.SOL_SOCKET}:${C.SO_RCVTIMEO}`,
  `${C.SOL_SOCKET}:${C.SO_SNDTIMEO}`,
]);

/** A refusal with an errno and a reason that names the endpoint. */
class Refusal extends Error {
  constructor(readonly errno: number, message: string) {
    super(message);
  }
}

/** The errno to answer with for a failure: the refusal's or system call's, else `fallback`. */
function errnoOf(e: unknown, fallback: number): number {
  return e instanceof Refusal || e instanceof SysError ? e.errno : fallback;
}

/** The graft broker. Create, then `await serve()`; `stop()` ends it. */
export class Broker {
  readonly #opts: Required<Omit<BrokerOptions, "log">> & Pick<BrokerOptions, "log">;
  readonly #namespaces = new Map<string, NsEntry>();
  readonly #clients = new Map<number, Client>();
  #listenFd = -1;
  #defaultTargetFd = -1;
  #wakeRead = -1;
  #wakeWrite = -1;
  #stopping = false;
  #homeKey = "";
  #lastGc = 0;
  readonly #scratch = new Uint8Array(P.PACKET_MAX);
  /** Requests served, by outcome; read by tests and `graft inspect`. */
  readonly stats = { sockets: 0, refused: 0, malformed: 0, requests: 0 };

  /** A broker that will listen on `opts.socketPath`. */
  constructor(opts: BrokerOptions) {
    this.#opts = {
      ...opts,
      idleMs: opts.idleMs ?? 10_000,
      gcMs: opts.gcMs ?? 10_000,
      maxClients: opts.maxClients ?? 4096,
      verbose: opts.verbose ?? false,
    };
  }

  #log(line: string): void {
    this.#opts.log?.(line);
  }

  /** A per-request line: built only when someone reads it (grafting is a hot path). */
  #trace(line: () => string): void {
    if (this.#opts.verbose && this.#opts.log) this.#opts.log(line());
  }

  /** Open the listening socket; throws when the path is taken by a live broker. */
  listen(): void {
    const dir = this.#opts.socketPath.replace(/\/[^/]*$/, "") || "/";
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    raiseFileLimit();
    // Claim the socket first: a second broker fails here, before saying anything else.
    this.#listenFd = seqpacketListen(this.#opts.socketPath);
    this.#defaultTargetFd = openDefaultTarget((line) => this.#log(line));
    this.#homeKey = netnsKey(netnsIdOfPath("/proc/thread-self/ns/net")!);
    const pipe = new Int32Array(2);
    check("pipe2", libc().pipe2(new Uint8Array(pipe.buffer), C.O_CLOEXEC | C.O_NONBLOCK));
    [this.#wakeRead, this.#wakeWrite] = [pipe[0], pipe[1]];
    this.#log(`listening on ${this.#opts.socketPath}`);
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
      let lastYield = Date.now();
      while (!this.#stopping) {
        const fds = [this.#wakeRead, this.#listenFd, ...this.#clients.keys()];
        // Wait for requests on this thread (a hop to a worker thread and back
        // would cost more than the request), in slices short enough that
        // signals (handled by the event loop) are seen within 20 ms.
        const ready = pollNow(fds, POLL_SLICE_MS);
        if (ready.length === 0 || Date.now() - lastYield > POLL_SLICE_MS) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = Date.now();
        }
        for (const { fd, revents } of ready) {
          if (this.#stopping) break;
          if (fd === this.#wakeRead) continue;
          if (fd === this.#listenFd) this.#acceptAll();
          else this.#serviceClient(fd, revents);
        }
        this.#expireIdle();
        this.#maybeGc();
      }
    } finally {
      this.#shutdown();
    }
  }

  #shutdown(): void {
    for (const c of this.#clients.values()) closeFd(c.fd);
    this.#clients.clear();
    for (const ns of this.#namespaces.values()) this.#dropNamespace(ns);
    closeFd(this.#listenFd);
    closeFd(this.#defaultTargetFd);
    closeFd(this.#wakeRead);
    closeFd(this.#wakeWrite);
    this.#listenFd =
      this.#defaultTargetFd =
      this.#wakeRead =
      this.#wakeWrite =
        -1;
    try {
      Deno.removeSync(this.#opts.socketPath);
    } catch { /* already gone */ }
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
      if (this.#clients.size >= this.#opts.maxClients) this.#evictIdlest();
      try {
        const cred = peerCred(fd);
        const id = netnsIdOfPid(cred.pid);
        this.#clients.set(fd, { fd, cred, nsKey: id && netnsKey(id), lastActive: Date.now() });
      } catch {
        closeFd(fd);
      }
    }
  }

  /** Close the client that has been quiet longest (to admit a new one). */
  #evictIdlest(): void {
    let idlest: Client | undefined;
    for (const c of this.#clients.values()) {
      if (!idlest || c.lastActive < idlest.lastActive) idlest = c;
    }
    if (idlest) this.#closeClient(idlest.fd);
  }

  #closeClient(fd: number): void {
    this.#clients.delete(fd);
    closeFd(fd);
  }

  #expireIdle(): void {
    const now = Date.now();
    for (const c of this.#clients.values()) {
      if (now - c.lastActive > this.#opts.idleMs) this.#closeClient(c.fd);
    }
  }

  #serviceClient(fd: number, revents: number): void {
    const client = this.#clients.get(fd);
    if (!client) return;
    // A few packets per wakeup keeps one chatty client from starving the rest.
    for (let i = 0; i < 8; i++) {
      let pkt;
      try {
        pkt = recvPacket(fd, P.PACKET_MAX, C.MSG_DONTWAIT, this.#scratch);
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
      const keep = this.#handlePacket(client, pkt.data, pkt.fds, pkt.truncated);
      for (const f of pkt.fds) closeFd(f); // whatever was not adopted
      if (!keep) {
        this.#closeClient(fd);
        return;
      }
    }
  }

  /** Handle one packet; returns false when the connection should be closed. */
  #handlePacket(client: Client, data: Uint8Array, fds: number[], truncated: boolean): boolean {
    this.stats.requests++;
    const hdr = P.getHeader(data);
    if (typeof hdr === "string" || truncated) {
      this.stats.malformed++;
      const why = truncated ? "packet too long" : `bad header (${hdr})`;
      this.#trace(() => `pid ${client.cred.pid}: ${why}; closing`);
      if (hdr === "version" || hdr === "length" || truncated) {
        // The header was readable enough to answer in kind.
        const v = new DataView(data.buffer, data.byteOffset, data.length);
        const op = data.length >= 8 ? v.getUint16(6, true) : 0;
        const seq = data.length >= 16 ? v.getUint32(12, true) : 0;
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
          return this.#handleSocket(client, data, hdr);
        case P.Op.SOCKETS:
          return this.#handleSockets(client, data, hdr);
        case P.Op.EP_ADD:
        case P.Op.EP_DEL:
        case P.Op.EP_LIST:
        case P.Op.STATUS:
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

  // ---- GRAFT_OP_SOCKET ------------------------------------------------------

  #handleSocket(client: Client, data: Uint8Array, hdr: P.Header): boolean {
    const req = P.decodeSockRequest(data, hdr);
    if (typeof req === "string") {
      this.stats.malformed++;
      this.#reply(client.fd, P.Op.SOCKET, hdr.seq, Errno.EINVAL, req);
      return false;
    }
    let sock = -1;
    try {
      const { fd, family, addr } = this.#graft(client, req);
      sock = fd;
      const resp = P.encodeSockResponse(hdr.seq, 0, family, addr, "");
      sendPacket(client.fd, resp, [sock], C.MSG_DONTWAIT);
      this.stats.sockets++;
      this.#trace(() =>
        `pid ${client.cred.pid}: ${req.ep} -> ${formatSockaddr(decodeSockaddr(addr))}`
      );
    } catch (e) {
      this.stats.refused++;
      const status = errnoOf(e, Errno.EPROTO);
      const msg = (e as Error).message;
      this.#trace(() => `pid ${client.cred.pid}: refused ${req.ep}: ${msg}`);
      this.#reply(client.fd, P.Op.SOCKET, hdr.seq, status, msg);
    } finally {
      closeFd(sock);
    }
    return true;
  }

  /**
   * GRAFT_OP_SOCKETS: several client sockets bound to a `port dynamic`
   * endpoint's address (no port reserved), for the preload's pool.
   */
  #handleSockets(client: Client, data: Uint8Array, hdr: P.Header): boolean {
    const r = P.decodeSocksRequest(data, hdr);
    if (typeof r === "string") {
      this.stats.malformed++;
      this.#reply(client.fd, P.Op.SOCKETS, hdr.seq, Errno.EINVAL, r);
      return false;
    }
    const { req, count } = r;
    const fds: number[] = [];
    try {
      const ep = this.#lookup(client, req.ep).ep;
      if (
        ep.type === "unix" || ep.port !== "dynamic" || req.port !== 0 || req.type !== C.SOCK_STREAM
      ) {
        throw new Refusal(
          Errno.EINVAL,
          `endpoint ${req.ep}: only port-dynamic ip endpoints hand out sockets in batches`,
        );
      }
      let first: { family: number; addr: Uint8Array } | undefined;
      for (let i = 0; i < count; i++) {
        try {
          const g = this.#graft(client, req);
          fds.push(g.fd);
          first ??= g;
        } catch (e) {
          if (fds.length === 0) throw e;
          break; // hand out what we have
        }
      }
      const resp = P.encodeSockResponse(hdr.seq, 0, first!.family, first!.addr, "", P.Op.SOCKETS);
      sendPacket(client.fd, resp, fds, C.MSG_DONTWAIT);
      this.stats.sockets += fds.length;
    } catch (e) {
      this.stats.refused++;
      const status = errnoOf(e, Errno.EPROTO);
      this.#reply(client.fd, P.Op.SOCKETS, hdr.seq, status, (e as Error).message);
    } finally {
      for (const fd of fds) closeFd(fd);
    }
    return true;
  }

  /** The caller's endpoint of that name, or a refusal naming it. */
  #lookup(client: Client, name: string): StoredEndpoint {
    if (!client.nsKey) throw new Refusal(Errno.ESRCH, "cannot find the caller's network namespace");
    const stored = this.#namespaces.get(client.nsKey)?.endpoints.get(name);
    if (!stored) {
      throw new Refusal(Errno.EADDRNOTAVAIL, `no endpoint "${name}" in this network namespace`);
    }
    return stored;
  }

  /** Create, configure and bind the real socket for a request. */
  #graft(client: Client, req: P.SockRequest): { fd: number; family: number; addr: Uint8Array } {
    const stored = this.#lookup(client, req.ep);
    if (req.type !== C.SOCK_STREAM && req.type !== C.SOCK_DGRAM) {
      throw new Refusal(Errno.EINVAL, `endpoint ${req.ep}: socket type ${req.type} not supported`);
    }
    if (req.family !== C.AF_INET && req.family !== C.AF_INET6) {
      throw new Refusal(
        Errno.EAFNOSUPPORT,
        `endpoint ${req.ep}: family ${req.family} not supported`,
      );
    }
    const ep = stored.ep;
    let family: number, protocol = req.protocol, sa: Uint8Array<ArrayBuffer>;
    let forceDual = false;
    if (ep.type === "unix") {
      family = C.AF_UNIX;
      protocol = 0;
      sa = sockaddrUn(ep.path);
      removeStaleUnixSocket(ep.path);
    } else {
      const port = ep.port === "dynamic" ? req.port : ep.port;
      if (ep.type === "ipv4" && req.family === C.AF_INET6) {
        // Keep the application's family: an IPv4 endpoint as a v4-mapped address.
        family = C.AF_INET6;
        const mapped = new Uint8Array(16);
        mapped.set([0xff, 0xff], 10);
        mapped.set(parseIPv4(ep.addr)!, 12);
        sa = sockaddrIn6(mapped, port);
        forceDual = true;
      } else if (ep.type === "ipv4") {
        family = C.AF_INET;
        sa = sockaddrIn(parseIPv4(ep.addr)!, port);
      } else {
        family = C.AF_INET6;
        sa = sockaddrIn6(parseIPv6(ep.addr)!, port);
      }
    }
    const what = `endpoint ${ep.name} (${describe(ep, req.port)})`;
    // Sockets for the broker's own namespace (the usual host target) need no switch.
    const fd = withNetns(
      stored.targetKey === this.#homeKey ? undefined : stored.targetFd,
      () => check("socket", libc().socket(family, req.type | C.SOCK_CLOEXEC, protocol), what),
    );
    try {
      const allowed = family === C.AF_UNIX ? UNIX_OPTS : ALLOWED_OPTS;
      for (const o of req.opts) {
        const key = `${o.level}:${o.name}`;
        if (!allowed.has(key)) continue;
        if (forceDual && o.level === C.IPPROTO_IPV6 && o.name === C.IPV6_V6ONLY) continue;
        if (family === C.AF_INET && o.level === C.IPPROTO_IPV6) continue;
        const val = o.value.slice();
        if (libc().setsockopt(fd, o.level, o.name, val, val.length) < 0) {
          const e = errno();
          // An option the endpoint's family does not know is skipped, as the kernel backend does.
          if (e !== Errno.ENOPROTOOPT) {
            throw new Refusal(e, `${what}: setsockopt(${o.level}, ${o.name}): ${strerror(e)}`);
          }
        }
      }
      if (forceDual) {
        const zero = new Uint8Array(4);
        check("setsockopt", libc().setsockopt(fd, C.IPPROTO_IPV6, C.IPV6_V6ONLY, zero, 4), what);
      }
      if (family !== C.AF_UNIX && req.type === C.SOCK_STREAM && portOf(sa) === 0) {
        // A client socket: let connect() pick the port with the full 4-tuple,
        // as it would for an unbound socket, instead of reserving one in bind().
        const one = new Uint8Array([1, 0, 0, 0]);
        check(
          "setsockopt",
          libc().setsockopt(fd, C.IPPROTO_IP, C.IP_BIND_ADDRESS_NO_PORT, one, 4),
          what,
        );
      }
      if (libc().bind(fd, sa, sa.length) < 0) {
        const e = errno();
        throw new Refusal(e, `cannot bind ${what}: ${strerror(e)}`);
      }
      const addr = new Uint8Array(128);
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, 128, true);
      check("getsockname", libc().getsockname(fd, addr, len), what);
      return { fd, family, addr: addr.slice(0, new DataView(len.buffer).getUint32(0, true)) };
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  // ---- endpoint management (JSON) -------------------------------------------

  #handleJson(client: Client, data: Uint8Array, hdr: P.Header, fds: number[]): boolean {
    const body = P.decodeJson(data);
    const answer = (v: Record<string, unknown>) => {
      const pkt = P.encodeJson(hdr.op, hdr.seq, { ok: true, ...v });
      // A big reply (a status of thousands of endpoints) needs a send buffer to match.
      if (pkt.length > 100_000) {
        setIntOpt(client.fd, C.SOL_SOCKET, C.SO_SNDBUF, 2 * pkt.length + 65536);
      }
      if (!sendPacket(client.fd, pkt, [], C.MSG_DONTWAIT)) {
        throw new Refusal(Errno.EMSGSIZE, "reply too large");
      }
    };
    if (!body) {
      this.stats.malformed++;
      this.#reply(client.fd, hdr.op, hdr.seq, Errno.EINVAL, "request body is not a JSON object");
      return false;
    }
    const labels = Array.isArray(body.fds) ? body.fds : [];
    if (labels.length !== fds.length) {
      this.#reply(
        client.fd,
        hdr.op,
        hdr.seq,
        Errno.EINVAL,
        "descriptor labels do not match descriptors",
      );
      return true;
    }
    const fdFor = (label: string) => {
      const i = labels.indexOf(label);
      return i >= 0 ? fds[i] : undefined;
    };
    const root = client.cred.uid === 0;
    try {
      // Root may act in any namespace it names; everyone else acts in their own.
      const actFd = root ? fdFor("act") : undefined;
      const actKey = actFd !== undefined ? netnsKey(netnsIdOfFd(actFd)) : (() => {
        if (!client.nsKey) {
          throw new Refusal(Errno.ESRCH, "cannot find the caller's network namespace");
        }
        return client.nsKey;
      })();
      switch (hdr.op) {
        case P.Op.EP_LIST: {
          const ns = this.#namespaces.get(actKey);
          answer({ endpoints: ns ? [...ns.endpoints.values()].map((s) => s.ep) : [] });
          return true;
        }
        case P.Op.STATUS: {
          if (!root) throw new Refusal(Errno.EPERM, "broker status needs root");
          answer({
            pid: Deno.pid,
            version: P.VERSION,
            stats: this.stats,
            namespaces: [...this.#namespaces.values()].map((ns) => ({
              ino: ns.ino,
              endpoints: [...ns.endpoints.values()].map((s) => s.ep),
            })),
          });
          return true;
        }
        case P.Op.EP_ADD: {
          if (!root) throw new Refusal(Errno.EPERM, "adding endpoints needs root (CAP_NET_ADMIN)");
          const ep = endpointFromJson(body.endpoint);
          const existing = this.#namespaces.get(actKey)?.endpoints.get(ep.name);
          if (existing) {
            throw new Refusal(Errno.EEXIST, `endpoint ${ep.name} already exists in this namespace`);
          }
          const tfd = fdFor("target");
          const ns = this.#adoptNamespace(actKey, actFd, client.cred.pid);
          // Adopt the target descriptor (or hold our own copy of the default).
          const targetFd = tfd !== undefined
            ? tfd
            : openFd("/proc/self/fd/" + this.#defaultTargetFd);
          if (tfd !== undefined) fds.splice(fds.indexOf(tfd), 1);
          ns.endpoints.set(ep.name, { ep, targetFd, targetKey: netnsKey(netnsIdOfFd(targetFd)) });
          this.#trace(() => `add ${formatEndpoint(ep)} (ns ${ns.ino})`);
          answer({ endpoint: ep });
          return true;
        }
        case P.Op.EP_DEL: {
          if (!root) {
            throw new Refusal(Errno.EPERM, "deleting endpoints needs root (CAP_NET_ADMIN)");
          }
          const name = String(body.name ?? "");
          const ns = this.#namespaces.get(actKey);
          const stored = ns?.endpoints.get(name);
          if (!ns || !stored) {
            throw new Refusal(Errno.ENOENT, `no endpoint "${name}" in this namespace`);
          }
          ns.endpoints.delete(name);
          closeFd(stored.targetFd);
          if (ns.endpoints.size === 0) this.#dropNamespace(ns);
          this.#trace(() => `del ${name} (ns ${ns.ino})`);
          answer({});
          return true;
        }
      }
      return false;
    } catch (e) {
      const status = errnoOf(e, Errno.EINVAL);
      this.#reply(client.fd, hdr.op, hdr.seq, status, (e as Error).message);
      return true;
    }
  }

  /** The entry for a namespace, creating it (and holding a descriptor) on first use. */
  #adoptNamespace(key: string, actFd: number | undefined, pid: number): NsEntry {
    let ns = this.#namespaces.get(key);
    if (ns) return ns;
    const fd = actFd !== undefined
      ? openFd(`/proc/self/fd/${actFd}`)
      : openFd(`/proc/${pid}/ns/net`);
    const id = netnsIdOfFd(fd);
    if (netnsKey(id) !== key) {
      closeFd(fd);
      throw new Refusal(Errno.ESRCH, "the caller's namespace changed during the request");
    }
    ns = { key, ino: id.ino, fd, endpoints: new Map() };
    this.#namespaces.set(key, ns);
    return ns;
  }

  #dropNamespace(ns: NsEntry): void {
    for (const s of ns.endpoints.values()) closeFd(s.targetFd);
    ns.endpoints.clear();
    closeFd(ns.fd);
    this.#namespaces.delete(ns.key);
  }

  /**
   * Forget the endpoints of namespaces nobody else uses any more: no process
   * in them and no bind mount (such as /run/netns/NAME) keeping them.
   */
  #maybeGc(): void {
    const now = Date.now();
    if (now - this.#lastGc < this.#opts.gcMs || this.#namespaces.size === 0) return;
    this.#lastGc = now;
    this.collectGarbage();
  }

  /** Run the namespace garbage collection now; returns how many namespaces were dropped. */
  collectGarbage(): number {
    const live = new Set<number>();
    try {
      const mounts = Deno.readTextFileSync("/proc/self/mountinfo");
      for (const m of mounts.matchAll(/net:\[(\d+)\]/g)) live.add(Number(m[1]));
    } catch { /* no mountinfo: rely on processes */ }
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      const id = netnsIdOfPath(`/proc/${e.name}/ns/net`);
      if (id) live.add(id.ino);
    }
    let dropped = 0;
    for (const ns of [...this.#namespaces.values()]) {
      if (live.has(ns.ino)) continue;
      this.#trace(() => `namespace ${ns.ino} is gone; forgetting ${ns.endpoints.size} endpoint(s)`);
      this.#dropNamespace(ns);
      dropped++;
    }
    return dropped;
  }

  /** Number of namespaces and endpoints held (for tests). */
  get size(): { namespaces: number; endpoints: number } {
    let endpoints = 0;
    for (const ns of this.#namespaces.values()) endpoints += ns.endpoints.size;
    return { namespaces: this.#namespaces.size, endpoints };
  }
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

function portOf(sa: Uint8Array): number {
  return new DataView(sa.buffer, sa.byteOffset, sa.length).getUint16(2, false);
}

function describe(ep: Endpoint, appPort: number): string {
  if (ep.type === "unix") return ep.path;
  const port = ep.port === "dynamic" ? appPort : ep.port;
  return ep.type === "ipv6" ? `[${ep.addr}]:${port}` : `${ep.addr}:${port}`;
}

/** Remove a Unix socket file nobody listens on any more, so a restarted server can bind. */
function removeStaleUnixSocket(path: string): void {
  try {
    if (!Deno.lstatSync(path).isSocket) return;
  } catch {
    return;
  }
  const fd = libc().socket(C.AF_UNIX, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  try {
    const sa = sockaddrUn(path);
    if (libc().connect(fd, sa, sa.length) < 0 && errno() === Errno.ECONNREFUSED) {
      Deno.removeSync(path);
    }
  } catch {
    /* leave it */
  } finally {
    closeFd(fd);
  }
}
