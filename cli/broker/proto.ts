/**
 * The broker wire protocol of `preload/graft_proto.h` (the C header is the
 * definition; docs/broker-protocol.md describes it in prose). Every constant,
 * size and offset comes from cli/model/contract_gen.ts, generated from the
 * header.
 *
 * @module
 */

import { PROTO } from "../model/contract_gen.ts";

const H = PROTO;
const HDR = H.graft_hdr;
const OPT = H.graft_sockopt;
const REQ = H.graft_sock_req;
const SOCKS = H.graft_socks_req;
const RESP = H.graft_sock_resp;

/** "GRFT" read as a little-endian u32. */
export const MAGIC = H.GRAFT_PROTO_MAGIC;
/** The protocol version this code speaks. */
export const VERSION = H.GRAFT_PROTO_VERSION;
/** Endpoint names are 1..15 bytes; 16 with the NUL. */
export const EPNAME_MAX = H.GRAFT_EPNAME_MAX;
/** Bytes of value one carried socket option may hold. */
export const SOCKOPT_VAL_MAX = H.GRAFT_SOCKOPT_VAL_MAX;
/** Most socket options one request may carry. */
export const SOCKOPT_MAX = H.GRAFT_SOCKOPT_MAX;
/** Most descriptors one GRAFT_OP_SOCKETS reply carries. */
export const SOCKETS_MAX = H.GRAFT_SOCKETS_MAX;
/** Bytes of the human-readable reason in a reply. */
export const MSG_MAX = H.GRAFT_MSG_MAX;
/** Largest packet either side sends. */
export const PACKET_MAX = H.GRAFT_PACKET_MAX;
/** Where the broker listens unless GRAFT_SOCKET says otherwise. */
export const DEFAULT_SOCKET = H.GRAFT_DEFAULT_SOCKET;

/** Request and reply operations (enum graft_op). */
export const Op = H.graft_op;

/** Sizes of the C structs. */
export const Size = {
  HDR: HDR.SIZE,
  SOCKOPT: OPT.SIZE,
  SOCK_REQ: REQ.SIZE,
  SOCK_RESP: RESP.SIZE,
  SOCKS_REQ: SOCKS.SIZE,
} as const;

/** Bytes of the address a reply carries (struct graft_sock_resp's addr). */
const ADDR_MAX = RESP.msg - RESP.addr;

/** The header every packet starts with. */
export interface Header {
  /** Operation (see {@link Op}). */
  op: number;
  /** Whole packet length. */
  len: number;
  /** Sequence number chosen by the client. */
  seq: number;
  /** Protocol version. */
  version: number;
}

/** Encode a header into the first 16 bytes of `b`. */
export function putHeader(b: Uint8Array, op: number, seq: number): void {
  const v = new DataView(b.buffer, b.byteOffset, Size.HDR);
  v.setUint32(HDR.magic, MAGIC, true);
  v.setUint16(HDR.version, VERSION, true);
  v.setUint16(HDR.op, op, true);
  v.setUint32(HDR.len, b.length, true);
  v.setUint32(HDR.seq, seq, true);
}

/** Why a packet's header was refused. */
export type HeaderProblem = "short" | "magic" | "version" | "length";

/** Decode and check a header; returns the header or what is wrong with it. */
export function getHeader(b: Uint8Array): Header | HeaderProblem {
  if (b.length < Size.HDR) return "short";
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint32(HDR.magic, true) !== MAGIC) return "magic";
  const h = {
    version: v.getUint16(HDR.version, true),
    op: v.getUint16(HDR.op, true),
    len: v.getUint32(HDR.len, true),
    seq: v.getUint32(HDR.seq, true),
  };
  if (h.version !== VERSION) return "version";
  if (h.len !== b.length) return "length";
  return h;
}

/** The op and seq of a header that failed its checks (0 where the packet is too short). */
export function peekHeader(b: Uint8Array): { op: number; seq: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return {
    op: b.length >= HDR.op + 2 ? v.getUint16(HDR.op, true) : 0,
    seq: b.length >= HDR.seq + 4 ? v.getUint32(HDR.seq, true) : 0,
  };
}

/** A socket option carried from the application to the broker. */
export interface SockOpt {
  /** Option level (SOL_SOCKET, IPPROTO_TCP, ...). */
  level: number;
  /** Option name. */
  name: number;
  /** The raw value as the application passed it. */
  value: Uint8Array;
}

/** A decoded GRAFT_OP_SOCKET request. */
export interface SockRequest {
  /** Header fields. */
  hdr: Header;
  /** Endpoint name. */
  ep: string;
  /** The application's address family. */
  family: number;
  /** SOCK_STREAM or SOCK_DGRAM. */
  type: number;
  /** Protocol as given to socket(). */
  protocol: number;
  /** The port the application asked for. */
  port: number;
  /** Options to apply before bind. */
  opts: SockOpt[];
}

const UTF8 = new TextDecoder("utf-8", { fatal: false });

function cString(b: Uint8Array): string | undefined {
  const nul = b.indexOf(0);
  if (nul < 0) return undefined;
  // Names are short and nearly always ASCII: no decoder call, closure or
  // spread on every request.
  let s = "";
  for (let i = 0; i < nul; i++) {
    if (b[i] >= 0x80) return UTF8.decode(b.subarray(0, nul));
    s += String.fromCharCode(b[i]);
  }
  return s;
}

/** Decode a GRAFT_OP_SOCKET request body; returns an error text when malformed. */
export function decodeSockRequest(b: Uint8Array, hdr: Header): SockRequest | string {
  if (b.length < Size.SOCK_REQ) return "socket request too short";
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const ep = cString(b.subarray(REQ.ep, REQ.ep + EPNAME_MAX));
  if (ep === undefined || ep.length === 0) return "endpoint name missing or not NUL-terminated";
  const nopts = v.getUint16(REQ.nopts, true);
  if (nopts > SOCKOPT_MAX) return `too many socket options (${nopts} > ${SOCKOPT_MAX})`;
  if (b.length !== Size.SOCK_REQ + nopts * Size.SOCKOPT) return "socket request length mismatch";
  const opts: SockOpt[] = [];
  for (let i = 0; i < nopts; i++) {
    const off = Size.SOCK_REQ + i * Size.SOCKOPT;
    const len = v.getUint32(off + OPT.len, true);
    if (len < 1 || len > SOCKOPT_VAL_MAX) return `socket option ${i} has bad length ${len}`;
    opts.push({
      level: v.getInt32(off + OPT.level, true),
      name: v.getInt32(off + OPT.name, true),
      value: b.slice(off + OPT.val, off + OPT.val + len),
    });
  }
  return {
    hdr,
    ep,
    family: v.getInt32(REQ.family, true),
    type: v.getInt32(REQ.type, true),
    protocol: v.getInt32(REQ.protocol, true),
    port: v.getUint16(REQ.port, true),
    opts,
  };
}

/** Decode a GRAFT_OP_SOCKETS request: a socket request for `count` sockets. */
export function decodeSocksRequest(
  b: Uint8Array,
  hdr: Header,
): { req: SockRequest; count: number } | string {
  if (b.length !== Size.SOCKS_REQ) return "sockets request length mismatch";
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint16(REQ.nopts, true) !== 0) return "a sockets request carries no socket options";
  const count = v.getUint32(SOCKS.count, true);
  if (count < 1 || count > SOCKETS_MAX) return `count ${count} is not 1..${SOCKETS_MAX}`;
  if (v.getUint32(SOCKS.reserved, true) !== 0) return "reserved field is not 0";
  const req = decodeSockRequest(b.subarray(0, Size.SOCK_REQ), { ...hdr, len: Size.SOCK_REQ });
  return typeof req === "string" ? req : { req, count };
}

/** Encode a GRAFT_OP_SOCKET request (used by tests and by `mod.ts` callers). */
export function encodeSockRequest(r: Omit<SockRequest, "hdr">, seq = 1): Uint8Array {
  const b = new Uint8Array(Size.SOCK_REQ + r.opts.length * Size.SOCKOPT);
  putHeader(b, Op.SOCKET, seq);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode(r.ep).subarray(0, EPNAME_MAX - 1), REQ.ep);
  v.setInt32(REQ.family, r.family, true);
  v.setInt32(REQ.type, r.type, true);
  v.setInt32(REQ.protocol, r.protocol, true);
  v.setUint16(REQ.port, r.port, true);
  v.setUint16(REQ.nopts, r.opts.length, true);
  r.opts.forEach((o, i) => {
    const off = Size.SOCK_REQ + i * Size.SOCKOPT;
    v.setInt32(off + OPT.level, o.level, true);
    v.setInt32(off + OPT.name, o.name, true);
    v.setUint32(off + OPT.len, o.value.length, true);
    b.set(o.value, off + OPT.val);
  });
  return b;
}

/** Encode a GRAFT_OP_SOCKETS request: a socket request (no options) and a count. */
export function encodeSocksRequest(
  r: Omit<SockRequest, "hdr">,
  count: number,
  seq = 1,
): Uint8Array {
  const b = new Uint8Array(Size.SOCKS_REQ);
  b.set(encodeSockRequest({ ...r, opts: [] }, seq));
  putHeader(b, Op.SOCKETS, seq);
  new DataView(b.buffer).setUint32(SOCKS.count, count, true);
  return b;
}

/** Encode a GRAFT_OP_SOCKET reply. */
export function encodeSockResponse(
  seq: number,
  status: number,
  family: number,
  addr: Uint8Array,
  msg: string,
  op: number = Op.SOCKET,
): Uint8Array {
  const b = new Uint8Array(Size.SOCK_RESP);
  putHeader(b, op, seq);
  const v = new DataView(b.buffer);
  v.setInt32(RESP.status, status, true);
  v.setInt32(RESP.family, family, true);
  v.setUint32(RESP.addrlen, Math.min(addr.length, ADDR_MAX), true);
  b.set(addr.subarray(0, ADDR_MAX), RESP.addr);
  const m = new TextEncoder().encode(msg);
  b.set(m.subarray(0, MSG_MAX - 1), RESP.msg);
  return b;
}

/** A decoded GRAFT_OP_SOCKET reply. */
export interface SockResponse {
  /** 0 or a positive errno. */
  status: number;
  /** Family of the passed socket. */
  family: number;
  /** The bound address as raw sockaddr bytes. */
  addr: Uint8Array;
  /** Reason, when status is not 0. */
  msg: string;
}

/** Decode a GRAFT_OP_SOCKET reply. */
export function decodeSockResponse(b: Uint8Array): SockResponse | undefined {
  if (b.length !== Size.SOCK_RESP) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const addrlen = Math.min(v.getUint32(RESP.addrlen, true), ADDR_MAX);
  return {
    status: v.getInt32(RESP.status, true),
    family: v.getInt32(RESP.family, true),
    addr: b.slice(RESP.addr, RESP.addr + addrlen),
    msg: cString(b.subarray(RESP.msg, RESP.msg + MSG_MAX)) ?? "",
  };
}

/** Encode a JSON-bodied packet (endpoint management). */
export function encodeJson(op: number, seq: number, body: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(body));
  const b = new Uint8Array(Size.HDR + json.length);
  b.set(json, Size.HDR);
  putHeader(b, op, seq);
  return b;
}

/** Decode the JSON body of a packet; undefined when it is not a JSON object. */
export function decodeJson(b: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b.subarray(Size.HDR)));
    return v && typeof v === "object" && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
