/**
 * Talking to the broker: endpoint management over the JSON operations
 * (GRAFT_OP_EP_ADD, _EP_DEL, _EP_LIST, _STATUS), and the socket requests
 * (GRAFT_OP_SOCKET, GRAFT_OP_SOCKETS) that libgraft.so sends in C, for tests
 * and tools.
 *
 * @module
 */

import { type Endpoint, endpointFromJson } from "../model/endpoint.ts";
import { type MapKind, mapsFromJson, type NamespaceMaps } from "../model/nsmap.ts";
import { ENV } from "../model/contract_gen.ts";
import { BrokerError } from "../model/errors.ts";
import { closeFd, SysError } from "../sys/ffi.ts";
import * as P from "./proto.ts";
import type { StateHealth } from "./state.ts";
import { recvPacket, sendPacket, seqpacketConnect, setTimeouts } from "../sys/unix.ts";

/** The broker socket path: GRAFT_SOCKET, or /run/graft/graft.sock. */
export function brokerSocketPath(): string {
  return Deno.env.get(ENV.GRAFT_ENV_SOCKET) || P.DEFAULT_SOCKET;
}

let seq = 1;

/** Largest reply a client accepts: a status of thousands of endpoints fits. */
const REPLY_MAX = 4 << 20;

/** Connect to the broker, turning "nobody there" into a one-line BrokerError. */
export function connectBroker(path = brokerSocketPath()): number {
  try {
    const fd = seqpacketConnect(path);
    setTimeouts(fd, 10_000);
    return fd;
  } catch (e) {
    if (e instanceof SysError && ["ENOENT", "ECONNREFUSED"].includes(e.code)) {
      throw new BrokerError(
        `graft broker is not running at ${path}: start it with "graft daemon" ` +
          `(or set GRAFT_SOCKET)`,
        e.errno,
      );
    }
    if (e instanceof SysError && e.code === "EACCES") {
      throw new BrokerError(`permission denied connecting to the broker at ${path}`, e.errno);
    }
    throw e;
  }
}

/** A descriptor to pass with a request and what it means to the broker. */
export interface LabelledFd {
  /** "act": the namespace to act in; "target": the endpoint's target namespace. */
  label: "act" | "target";
  /** The descriptor (still owned by the caller). */
  fd: number;
}

/**
 * Send a JSON request with its descriptors. The broker refuses descriptors
 * (SO_PASSRIGHTS) until it has seen that the peer is an administrator, which
 * it checks on the first request: so a refused send is followed by one
 * request without descriptors, and tried again. If the broker still refuses
 * them, the request goes without, and the broker's answer says why.
 */
function sendRequest(fd: number, op: number, body: Record<string, unknown>, fds: LabelledFd[]) {
  const send = (with_: LabelledFd[]) =>
    sendPacket(
      fd,
      P.encodeJson(op, seq++, { ...body, fds: with_.map((f) => f.label) }),
      with_.map((f) => f.fd),
    );
  const refused = (e: unknown) => e instanceof SysError && e.code === "EPERM" && fds.length > 0;
  try {
    return send(fds);
  } catch (e) {
    if (!refused(e)) throw e;
  }
  sendPacket(fd, P.encodeJson(P.Op.EP_LIST, seq++, { fds: [] }));
  const hello = recvPacket(fd, REPLY_MAX);
  for (const f of hello?.fds ?? []) closeFd(f);
  try {
    return send(fds);
  } catch (e) {
    if (!refused(e)) throw e;
  }
  return send([]);
}

/** Send one JSON request and return the reply's body; refusals throw BrokerError. */
export function brokerRequest(
  op: number,
  body: Record<string, unknown>,
  fds: LabelledFd[] = [],
  path = brokerSocketPath(),
): Record<string, unknown> {
  const fd = connectBroker(path);
  try {
    sendRequest(fd, op, body, fds);
    const reply = recvPacket(fd, REPLY_MAX);
    if (!reply) throw new BrokerError("the broker closed the connection without answering");
    for (const f of reply.fds) closeFd(f);
    const out = P.decodeJson(reply.data);
    if (!out) throw new BrokerError("the broker sent a malformed reply");
    if (out.ok !== true) {
      const errno = typeof out.errno === "number" ? out.errno : undefined;
      throw new BrokerError(String(out.error ?? "request refused"), errno);
    }
    return out;
  } catch (e) {
    if (e instanceof SysError && (e.code === "EAGAIN" || e.code === "ETIMEDOUT")) {
      throw new BrokerError(`the broker at ${path} did not answer within 10 s`);
    }
    throw e;
  } finally {
    closeFd(fd);
  }
}

/** Add an endpoint through the broker. */
export function brokerAdd(ep: Endpoint, fds: LabelledFd[], path = brokerSocketPath()): void {
  brokerRequest(P.Op.EP_ADD, { endpoint: ep }, fds, path);
}

/** Delete an endpoint through the broker. */
export function brokerDel(name: string, fds: LabelledFd[], path = brokerSocketPath()): void {
  brokerRequest(P.Op.EP_DEL, { name }, fds, path);
}

/** List the endpoints of a namespace through the broker. */
export function brokerList(fds: LabelledFd[], path = brokerSocketPath()): Endpoint[] {
  const out = brokerRequest(P.Op.EP_LIST, {}, fds, path);
  const list = Array.isArray(out.endpoints) ? out.endpoints : [];
  return list.map(endpointFromJson);
}

/** Add a default mapping to a namespace through the broker. */
export function brokerMapAdd(kind: MapKind, mapping: string, fds: LabelledFd[]): void {
  brokerRequest(P.Op.MAP_ADD, { kind, mapping }, fds);
}

/** Delete a namespace's default mapping through the broker. */
export function brokerMapDel(kind: MapKind, mapping: string, fds: LabelledFd[]): void {
  brokerRequest(P.Op.MAP_DEL, { kind, mapping }, fds);
}

/** A namespace's default mappings, through the broker. */
export function brokerMapList(fds: LabelledFd[]): NamespaceMaps {
  return mapsFromJson(brokerRequest(P.Op.MAP_LIST, {}, fds).maps);
}

/** Ask the broker to forget namespaces that no longer exist now; returns how many it dropped. */
export function brokerGc(path: string = brokerSocketPath()): number {
  return Number(brokerRequest(P.Op.GC, {}, [], path).dropped ?? 0);
}

/** The state file's health, as the broker reports it. */
export type BrokerStateHealth = StateHealth;

/** The broker's whole state (root only): health, counters, namespaces and their endpoints. */
export interface BrokerStatus {
  /** The broker's PID. */
  pid: number;
  /** Protocol version. */
  version: number;
  /** Request counters: sockets (handed out), refused, malformed, requests. */
  stats: Record<string, number>;
  /** Refusals by errno name. */
  refusedBy: Record<string, number>;
  /** Milliseconds since the broker started. */
  uptimeMs?: number;
  /** Clients connected now. */
  clients?: number;
  /** True when its socket came from the service manager. */
  activated?: boolean;
  /** The state file, or null when the broker keeps none. */
  state?: BrokerStateHealth | null;
  /** Namespaces (by nsfs inode) that define endpoints or mappings. */
  namespaces: { ino: number; endpoints: Endpoint[]; maps: NamespaceMaps }[];
}

/** Ask the broker for its state. */
export function brokerStatus(path: string = brokerSocketPath()): BrokerStatus {
  const out = brokerRequest(P.Op.STATUS, {}, [], path);
  const nss = Array.isArray(out.namespaces) ? out.namespaces : [];
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  return {
    pid: Number(out.pid),
    version: Number(out.version),
    stats: (out.stats ?? {}) as Record<string, number>,
    refusedBy: (out.refusedBy ?? {}) as Record<string, number>,
    uptimeMs: num(out.uptimeMs),
    clients: num(out.clients),
    activated: typeof out.activated === "boolean" ? out.activated : undefined,
    state: out.state as BrokerStateHealth | null | undefined,
    namespaces: nss.map((n: { ino: number; endpoints: unknown[]; maps?: unknown }) => ({
      ino: Number(n.ino),
      endpoints: n.endpoints.map(endpointFromJson),
      maps: mapsFromJson(n.maps),
    })),
  };
}

/** A bound socket the broker handed over. */
export interface BrokerSocket {
  /** The descriptor (now the caller's). */
  fd: number;
  /** Its family. */
  family: number;
  /** The address it is bound to (raw sockaddr). */
  addr: Uint8Array;
}

/** A socket request: what libgraft.so asks for when the application binds or connects. */
export type SocketAsk = Omit<P.SockRequest, "hdr">;

/** Send one socket request and collect the reply's descriptors; refusals throw BrokerError. */
function socketRequest(pkt: Uint8Array, path: string): { resp: P.SockResponse; fds: number[] } {
  const fd = connectBroker(path);
  try {
    sendPacket(fd, pkt);
    const reply = recvPacket(fd, P.PACKET_MAX);
    if (!reply) throw new BrokerError("the broker closed the connection without answering");
    const resp = P.decodeSockResponse(reply.data);
    if (!resp || resp.status !== 0) {
      for (const f of reply.fds) closeFd(f);
      throw new BrokerError(resp?.msg || "the broker sent a malformed reply", resp?.status);
    }
    return { resp, fds: reply.fds };
  } finally {
    closeFd(fd);
  }
}

/** Ask the broker for a socket bound to endpoint `ask.ep` of the caller's namespace (GRAFT_OP_SOCKET). */
export function brokerSocket(ask: SocketAsk, path = brokerSocketPath()): BrokerSocket {
  const { resp, fds } = socketRequest(P.encodeSockRequest(ask, seq++), path);
  if (fds.length !== 1) {
    for (const f of fds) closeFd(f);
    throw new BrokerError(`the broker passed ${fds.length} descriptors instead of 1`);
  }
  return { fd: fds[0], family: resp.family, addr: resp.addr };
}

/** Ask for up to `count` client sockets of a port-dynamic endpoint (GRAFT_OP_SOCKETS). */
export function brokerSockets(ask: SocketAsk, count: number, path = brokerSocketPath()): number[] {
  return socketRequest(P.encodeSocksRequest(ask, count, seq++), path).fds;
}
