/**
 * A small netlink client over FFI: message and attribute building, a receive
 * loop that checks sequence and port id, follows multipart dumps to
 * NLMSG_DONE, and turns NLMSG_ERROR into a {@link NetlinkError} carrying the
 * errno and the kernel's extended-ack text. Generic netlink family lookup
 * through nlctrl.
 *
 * @module
 */

import { C, check, closeFd, errno, errnoName, libc, strerror, SysError } from "./ffi.ts";
import { GraftError } from "../model/errors.ts";
import { setIntOpt, setTimeouts } from "./unix.ts";
import { withNetns } from "./netns.ts";

/** Netlink protocol numbers. */
export const NETLINK_SOCK_DIAG = 4;
/** Generic netlink. */
export const NETLINK_GENERIC = 16;

const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

/** nlmsghdr flags. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP: 0x300,
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
  DUMP_INTR: 0x10,
} as const;

const NLMSG_HDRLEN = 16;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSGERR_ATTR_MSG = 1;

const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;

/** A refusal from the kernel: errno plus the extended-ack message when there is one. */
export class NetlinkError extends GraftError {
  /** The errno's symbolic name, e.g. `"ENOENT"`. */
  readonly code: string;
  /** The kernel's extended-ack text, if it sent one. */
  readonly extack?: string;
  /** A refusal with `errnoValue` and the kernel's extended-ack text. */
  constructor(errnoValue: number, extack?: string, what = "netlink request") {
    super(
      `${what}: ${extack ? extack + " (" + strerror(errnoValue) + ")" : strerror(errnoValue)}`,
      1,
      errnoValue,
    );
    this.name = "NetlinkError";
    this.code = errnoName(errnoValue);
    this.extack = extack;
  }
}

/** A netlink message or attribute whose lengths do not add up. */
export class MalformedMessageError extends GraftError {
  /** What is wrong, in words. */
  constructor(message: string) {
    super(`malformed netlink message: ${message}`);
    this.name = "MalformedMessageError";
  }
}

const align4 = (n: number) => (n + 3) & ~3;

/** Builds a netlink attribute stream. */
export class AttrWriter {
  #parts: Uint8Array[] = [];
  #len = 0;

  /** Append a raw attribute. */
  raw(type: number, payload: Uint8Array): this {
    const b = new Uint8Array(align4(4 + payload.length));
    const v = new DataView(b.buffer);
    v.setUint16(0, 4 + payload.length, true);
    v.setUint16(2, type, true);
    b.set(payload, 4);
    this.#parts.push(b);
    this.#len += b.length;
    return this;
  }
  /** A NUL-terminated string. */
  str(type: number, s: string): this {
    const e = new TextEncoder().encode(s);
    const b = new Uint8Array(e.length + 1);
    b.set(e);
    return this.raw(type, b);
  }
  /** An unsigned 8-bit value. */
  u8(type: number, n: number): this {
    return this.raw(type, Uint8Array.of(n));
  }
  /** An unsigned 16-bit value in host (little-endian) order. */
  u16(type: number, n: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, n, true);
    return this.raw(type, b);
  }
  /** An unsigned 32-bit value in host order. */
  u32(type: number, n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return this.raw(type, b);
  }
  /** The concatenated attributes. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#len);
    let off = 0;
    for (const p of this.#parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** Parsed attributes: type -> payload (the last one wins for repeated types). */
export type Attrs = Map<number, Uint8Array>;

/** Parse an attribute stream, validating every length; throws on malformed input. */
export function parseAttrs(b: Uint8Array): Attrs {
  const out: Attrs = new Map();
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  let off = 0;
  while (b.length - off >= 4) {
    const len = v.getUint16(off, true);
    const type = v.getUint16(off + 2, true) & 0x3fff; // strip NLA_F_NESTED / NET_BYTEORDER
    if (len < 4 || len > b.length - off) {
      throw new MalformedMessageError(`attribute ${type} length ${len}, ${b.length - off} left`);
    }
    out.set(type, b.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** Read helpers for attribute payloads, checking exact sizes. */
export const attr = {
  /** A NUL-terminated string. */
  str(a: Uint8Array | undefined): string | undefined {
    if (!a) return undefined;
    const nul = a.indexOf(0);
    return new TextDecoder().decode(nul >= 0 ? a.subarray(0, nul) : a);
  },
  /** A u8. */
  u8(a: Uint8Array | undefined): number | undefined {
    return a && a.length === 1 ? a[0] : undefined;
  },
  /** A u16 in host order. */
  u16(a: Uint8Array | undefined): number | undefined {
    return a && a.length === 2
      ? new DataView(a.buffer, a.byteOffset, 2).getUint16(0, true)
      : undefined;
  },
  /** A u32 in host order. */
  u32(a: Uint8Array | undefined): number | undefined {
    return a && a.length === 4
      ? new DataView(a.buffer, a.byteOffset, 4).getUint32(0, true)
      : undefined;
  },
  /** An s32 in host order. */
  s32(a: Uint8Array | undefined): number | undefined {
    return a && a.length === 4
      ? new DataView(a.buffer, a.byteOffset, 4).getInt32(0, true)
      : undefined;
  },
};

/** One received netlink message. */
export interface NlMessage {
  /** nlmsg_type. */
  type: number;
  /** nlmsg_flags. */
  flags: number;
  /** nlmsg_seq. */
  seq: number;
  /** nlmsg_pid: the port id the message is for. */
  portid: number;
  /** The bytes after the header, up to nlmsg_len. */
  payload: Uint8Array;
}

/** Frame a payload as one netlink message (header, then the payload, padded). */
export function nlmsg(type: number, flags: number, seq: number, payload: Uint8Array): Uint8Array {
  const len = NLMSG_HDRLEN + payload.length;
  const out = new Uint8Array(align4(len));
  const v = new DataView(out.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, 0, true); // to the kernel
  out.set(payload, NLMSG_HDRLEN);
  return out;
}

/** Split a datagram into netlink messages, validating every length. */
export function parseMessages(buf: Uint8Array): NlMessage[] {
  const out: NlMessage[] = [];
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLMSG_HDRLEN) {
      throw new MalformedMessageError(`${buf.length - off} trailing bytes, shorter than a header`);
    }
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || len > buf.length - off) {
      throw new MalformedMessageError(`nlmsg_len ${len} with ${buf.length - off} bytes left`);
    }
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      portid: v.getUint32(off + 12, true),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += Math.min(align4(len), buf.length - off);
  }
  return out;
}

/** The errno and extended-ack text of an NLMSG_ERROR (or NLMSG_DONE) payload. */
export function parseError(msg: NlMessage): { errno: number; extack?: string } {
  if (msg.payload.length < 4) throw new MalformedMessageError("error message without a code");
  const v = new DataView(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength);
  const code = v.getInt32(0, true);
  let extack: string | undefined;
  if (msg.flags & NLM_F.ACK_TLVS) {
    let off = 4;
    if (msg.type === NLMSG_ERROR) {
      // The request's header follows, and its payload too unless capped.
      if (msg.payload.length < 4 + NLMSG_HDRLEN) {
        throw new MalformedMessageError("error message without the request's header");
      }
      off += msg.flags & NLM_F.CAPPED ? NLMSG_HDRLEN : align4(v.getUint32(4, true));
    }
    if (off <= msg.payload.length) {
      extack = attr.str(parseAttrs(msg.payload.subarray(off)).get(NLMSGERR_ATTR_MSG));
    }
  }
  return { errno: -code, extack };
}

/**
 * Feed the messages of one received datagram to `onMessage`; returns true
 * when the exchange is complete (an acknowledgement, NLMSG_DONE, or a single
 * reply). Messages must carry `seq` and be addressed to `portid`; anything
 * else, an error, or an interrupted dump throws.
 */
export function handleDumpMessages(
  msgs: NlMessage[],
  seq: number,
  portid: number,
  what: string,
  onMessage: (payload: Uint8Array) => void,
): boolean {
  for (const m of msgs) {
    if (m.seq !== seq || (portid !== 0 && m.portid !== portid)) {
      throw new MalformedMessageError(
        `${what}: reply for seq ${m.seq} port ${m.portid}, expected seq ${seq} port ${portid}`,
      );
    }
    if (m.type === NLMSG_ERROR) {
      const { errno, extack } = parseError(m);
      if (errno === 0) return true; // an acknowledgement ends the exchange
      throw new NetlinkError(errno, extack, what);
    }
    if (m.type === NLMSG_DONE) {
      if (m.payload.length >= 4) {
        const { errno, extack } = parseError(m);
        if (errno > 0) throw new NetlinkError(errno, extack, what);
      }
      return true;
    }
    if (m.flags & NLM_F.DUMP_INTR) {
      throw new NetlinkError(
        4, /* EINTR */
        undefined,
        `${what} interrupted by a concurrent change`,
      );
    }
    onMessage(m.payload);
    if (!(m.flags & NLM_F.MULTI)) return true;
  }
  return false;
}

/** An open netlink socket bound to a kernel-assigned port id. */
export class NetlinkSocket {
  /** The socket's descriptor. */
  readonly fd: number;
  /** The port id the kernel assigned at bind. */
  readonly portId: number;
  #seq = Math.floor(Math.random() * 0x7fffffff);
  #buf = new Uint8Array(65536);

  /**
   * Open a netlink socket of `protocol`, created inside namespace `netnsFd`
   * when given (the kernel serves requests in the socket's namespace).
   */
  constructor(protocol: number, netnsFd?: number) {
    this.fd = withNetns(
      netnsFd,
      () =>
        check(
          "socket",
          libc().socket(C.AF_NETLINK, C.SOCK_RAW | C.SOCK_CLOEXEC, protocol),
          "netlink",
        ),
    );
    try {
      const sa = new Uint8Array(12);
      new DataView(sa.buffer).setUint16(0, C.AF_NETLINK, true);
      check("bind", libc().bind(this.fd, sa, 12), "netlink");
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, 12, true);
      check("getsockname", libc().getsockname(this.fd, sa, len), "netlink");
      this.portId = new DataView(sa.buffer).getUint32(4, true);
      setIntOpt(this.fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      try {
        setIntOpt(this.fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      } catch { /* older kernels: full echo, still parsed */ }
      setTimeouts(this.fd, 5000);
    } catch (e) {
      closeFd(this.fd);
      throw e;
    }
  }

  /** Close the socket. */
  close(): void {
    closeFd(this.fd);
  }

  /**
   * Send the message `build` makes for a fresh sequence number and hand every
   * reply's payload to `onMessage` until the exchange is complete.
   */
  exchange(
    build: (seq: number) => Uint8Array,
    what: string,
    onMessage: (payload: Uint8Array) => void,
  ): void {
    const seq = ++this.#seq;
    const req = build(seq) as Uint8Array<ArrayBuffer>;
    const sent = Number(check("send", libc().send(this.fd, req, BigInt(req.length), 0), what));
    if (sent !== req.length) throw new MalformedMessageError(`${what}: short send`);
    for (;;) {
      const n = Number(libc().recv(this.fd, this.#buf, BigInt(this.#buf.length), C.MSG_TRUNC));
      if (n < 0) {
        const e = errno();
        if (e === 4) continue; // EINTR
        throw new SysError("recv", e, what);
      }
      if (n > this.#buf.length) {
        throw new MalformedMessageError(`${what}: reply of ${n} bytes truncated`);
      }
      if (n === 0) throw new MalformedMessageError(`${what}: empty reply`);
      const msgs = parseMessages(this.#buf.subarray(0, n));
      if (handleDumpMessages(msgs, seq, this.portId, what, onMessage)) return;
    }
  }

  /**
   * Send one request and collect the replies' payloads: every data message
   * until the ACK, NLMSG_DONE (dumps), or a single reply. Errors throw
   * NetlinkError.
   */
  request(
    type: number,
    flags: number,
    payload: Uint8Array,
    what = "netlink request",
  ): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.exchange(
      (seq) => nlmsg(type, flags | NLM_F.REQUEST, seq, payload),
      what,
      (p) => out.push(p.slice()),
    );
    return out;
  }
}

/** A generic netlink header: command, version, reserved. */
export function genlHeader(cmd: number, version: number): Uint8Array {
  return Uint8Array.of(cmd, version, 0, 0);
}

/** Concatenate byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Resolve a generic netlink family's id, or undefined when it is not registered. */
export function resolveGenlFamily(sock: NetlinkSocket, name: string): number | undefined {
  const payload = concat(
    genlHeader(CTRL_CMD_GETFAMILY, 1),
    new AttrWriter().str(CTRL_ATTR_FAMILY_NAME, name).bytes(),
  );
  try {
    const replies = sock.request(GENL_ID_CTRL, 0, payload, "nlctrl");
    for (const p of replies) {
      const id = attr.u16(parseAttrs(p.subarray(4)).get(CTRL_ATTR_FAMILY_ID));
      if (id !== undefined) return id;
    }
    return undefined;
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === 2) return undefined; // ENOENT
    throw e;
  }
}

/**
 * One generic netlink family reached through a socket of its own: each request
 * carries the family's id and a genl header, and each reply comes back as its
 * attributes (the genl header stripped).
 */
export class GenlFamily {
  private constructor(
    /** The socket the requests go through. */
    readonly sock: NetlinkSocket,
    /** The family's id, as resolved through nlctrl. */
    readonly id: number,
    /** The genl header's version field. */
    readonly version: number,
  ) {}

  /**
   * Open a generic netlink socket (inside namespace `netnsFd` when given) and
   * resolve family `name`; undefined, and nothing left open, when the family
   * is not registered.
   */
  static open(name: string, version: number, netnsFd?: number): GenlFamily | undefined {
    const sock = new NetlinkSocket(NETLINK_GENERIC, netnsFd);
    let id;
    try {
      id = resolveGenlFamily(sock, name);
    } finally {
      if (id === undefined) sock.close();
    }
    return id === undefined ? undefined : new GenlFamily(sock, id, version);
  }

  /** Send command `cmd` with `attrs`; the replies' attributes (see NetlinkSocket.request). */
  request(
    cmd: number,
    flags: number,
    attrs: Uint8Array = new Uint8Array(0),
    what?: string,
  ): Uint8Array[] {
    const replies = this.sock.request(
      this.id,
      flags,
      concat(genlHeader(cmd, this.version), attrs),
      what,
    );
    return replies.map((p) => p.subarray(4));
  }

  /** Close the socket. */
  close(): void {
    this.sock.close();
  }
}

/**
 * A u64 attribute payload in host order, as a number (exact below 2^53, which
 * inode numbers and byte counters stay under); undefined unless 8 bytes.
 */
export function attrU64(a: Uint8Array | undefined): number | undefined {
  return a && a.length === 8
    ? Number(new DataView(a.buffer, a.byteOffset, 8).getBigUint64(0, true))
    : undefined;
}
