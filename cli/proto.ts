/**
 * The broker wire protocol, mirrored from `preload/graft_proto.h` (the C
 * header is the definition; docs/broker-protocol.md describes it in prose).
 * Sizes and offsets here are checked against the header by a test.
 *
 * @module
 */

/** "GRFT" read as a little-endian u32. */
export const MAGIC = 0x54465247;
/** The protocol version this code speaks. */
export const VERSION = 1;
/** Endpoint names are 1..15 bytes; 16 with the NUL. */
export const EPNAME_MAX = 16;
/** Bytes of value one carried socket option may hold. */
export const SOCKOPT_VAL_MAX = 32;
/** Most socket options one request may carry. */
export const SOCKOPT_MAX = 32;
/** Most descriptors one GRAFT_OP_SOCKETS reply carries. */
export const SOCKETS_MAX = 32;
/** Bytes of the human-readable reason in a reply. */
export const MSG_MAX = 128;
/** Largest packet either side sends. */
export const PACKET_MAX = 65536;
/** Where the broker listens unless GRAFT_SOCKET says otherwise. */
export const DEFAULT_SOCKET = "/run/graft/graft.sock";

/** Request and reply operations. */
export const Op = {
  SOCKET: 1,
  EP_ADD: 2,
  EP_DEL: 3,
  EP_LIST: 4,
  STATUS: 5,
  SOCKETS: 6,
} as const;

/** Sizes of the C structs. */
export const Size = {
  HDR: 16,
  SOCKOPT: 44,
  SOCK_REQ: 48,
  SOCK_RESP: 284,
  SOCKS_REQ: 56,
} as const;

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
  v.setUint32(0, MAGIC, true);
  v.setUint16(4, VERSION, true);
  v.setUint16(6, op, true);
  v.setUint32(8, b.length, true);
  v.setUint32(12, seq, true);
}

/** Why a packet's header was refused. */
export type HeaderProblem = "short" | "magic" | "version" | "length";

/** Decode and check a header; returns the header or what is wrong with it. */
export function getHeader(b: Uint8Array): Header | HeaderProblem {
  if (b.length < Size.HDR) return "short";
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint32(0, true) !== MAGIC) return "magic";
  const h = {
    version: v.getUint16(4, true),
    op: v.getUint16(6, true),
    len: v.getUint32(8, true),
    seq: v.getUint32(12, true),
  };
  if (h.version !== VERSION) return "version";
  if (h.len !== b.length) return "length";
  return h;
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

function cString(b: Uint8Array): string | undefined {
  const nul = b.indexOf(0);
  if (nul < 0) return undefined;
  return new TextDecoder("utf-8", { fatal: false }).decode(b.subarray(0, nul));
}

/** Decode a GRAFT_OP_SOCKET request body; returns an error text when malformed. */
export function decodeSockRequest(b: Uint8Array, hdr: Header): SockRequest | string {
  if (b.length < Size.SOCK_REQ) return "socket request too short";
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const ep = cString(b.subarray(16, 16 + EPNAME_MAX));
  if (ep === undefined || ep.length === 0) return "endpoint name missing or not NUL-terminated";
  const nopts = v.getUint16(46, true);
  if (nopts > SOCKOPT_MAX) return `too many socket options (${nopts} > ${SOCKOPT_MAX})`;
  if (b.length !== Size.SOCK_REQ + nopts * Size.SOCKOPT) return "socket request length mismatch";
  const opts: SockOpt[] = [];
  for (let i = 0; i < nopts; i++) {
    const off = Size.SOCK_REQ + i * Size.SOCKOPT;
    const len = v.getUint32(off + 8, true);
    if (len < 1 || len > SOCKOPT_VAL_MAX) return `socket option ${i} has bad length ${len}`;
    opts.push({
      level: v.getInt32(off, true),
      name: v.getInt32(off + 4, true),
      value: b.slice(off + 12, off + 12 + len),
    });
  }
  return {
    hdr,
    ep,
    family: v.getInt32(32, true),
    type: v.getInt32(36, true),
    protocol: v.getInt32(40, true),
    port: v.getUint16(44, true),
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
  if (v.getUint16(46, true) !== 0) return "a sockets request carries no socket options";
  const count = v.getUint32(48, true);
  if (count < 1 || count > SOCKETS_MAX) return `count ${count} is not 1..${SOCKETS_MAX}`;
  if (v.getUint32(52, true) !== 0) return "reserved field is not 0";
  const req = decodeSockRequest(b.subarray(0, Size.SOCK_REQ), { ...hdr, len: Size.SOCK_REQ });
  return typeof req === "string" ? req : { req, count };
}

/** Encode a GRAFT_OP_SOCKET request (used by tests and by `mod.ts` callers). */
export function encodeSockRequest(r: Omit<SockRequest, "hdr">, seq = 1): Uint8Array {
  const b = new Uint8Array(Size.SOCK_REQ + r.opts.length * Size.SOCKOPT);
  putHeader(b, Op.SOCKET, seq);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode(r.ep).subarray(0, EPNAME_MAX - 1), 16);
  v.setInt32(32, r.family, true);
  v.setInt32(36, r.type, true);
  v.setInt32(40, r.protocol, true);
  v.setUint16(44, r.port, true);
  v.setUint16(46, r.opts.length, true);
  r.opts.forEach((o, i) => {
    const off = Size.SOCK_REQ + i * Size.SOCKOPT;
    v.setInt32(off, o.level, true);
    v.setInt32(off + 4, o.name, true);
    v.setUint32(off + 8, o.value.length, true);
    b.set(o.value, off + 12);
  });
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
  v.setInt32(16, status, true);
  v.setInt32(20, family, true);
  v.setUint32(24, Math.min(addr.length, 128), true);
  b.set(addr.subarray(0, 128), 28);
  const m = new TextEncoder().encode(msg);
  b.set(m.subarray(0, MSG_MAX - 1), 156);
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
  const addrlen = Math.min(v.getUint32(24, true), 128);
  return {
    status: v.getInt32(16, true),
    family: v.getInt32(20, true),
    addr: b.slice(28, 28 + addrlen),
    msg: cString(b.subarray(156, 156 + MSG_MAX)) ?? "",
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
