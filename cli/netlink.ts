/**
 * A small netlink client over FFI: message and attribute building, a receive
 * loop that checks sequence and port id, follows multipart dumps to
 * NLMSG_DONE, and turns NLMSG_ERROR into a {@link NetlinkError} carrying the
 * errno and the kernel's extended-ack text. Generic netlink family lookup
 * through nlctrl.
 *
 * @module
 */

import { C, check, closeFd, errno, libc, strerror, SysError } from "./ffi.ts";
import { GraftError } from "./errors.ts";
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
} as const;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSGERR_ATTR_MSG = 1;

const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;

/** A refusal from the kernel: errno plus the extended-ack message when there is one. */
export class NetlinkError extends GraftError {
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
    this.extack = extack;
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
  while (off + 4 <= b.length) {
    const len = v.getUint16(off, true);
    const type = v.getUint16(off + 2, true) & 0x3fff; // strip NLA_F_NESTED / NET_BYTEORDER
    if (len < 4 || off + len > b.length) throw new GraftError("malformed netlink attribute");
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
  /** The payload after the 16-byte header. */
  payload: Uint8Array;
}

/** An open netlink socket bound to a kernel-assigned port id. */
export class NetlinkSocket {
  readonly fd: number;
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
   * Send one request and collect the replies: every data message until the
   * ACK (non-dump) or NLMSG_DONE (dump). Errors throw NetlinkError.
   */
  request(type: number, flags: number, payload: Uint8Array, what?: string): NlMessage[] {
    const seq = ++this.#seq;
    const msg = new Uint8Array(16 + payload.length);
    const v = new DataView(msg.buffer);
    v.setUint32(0, msg.length, true);
    v.setUint16(4, type, true);
    v.setUint16(6, flags | NLM_F.REQUEST, true);
    v.setUint32(8, seq, true);
    v.setUint32(12, this.portId, true);
    msg.set(payload, 16);
    check("send", libc().send(this.fd, msg, BigInt(msg.length), 0), "netlink");
    const dump = (flags & NLM_F.DUMP) === NLM_F.DUMP;
    const out: NlMessage[] = [];
    for (let rounds = 0; rounds < 100_000; rounds++) {
      const n = Number(libc().recv(this.fd, this.#buf, BigInt(this.#buf.length), 0));
      if (n < 0) {
        const e = errno();
        if (e === 4) continue; // EINTR
        throw new SysError("recv", e, "netlink");
      }
      const b = this.#buf.subarray(0, n);
      const bv = new DataView(b.buffer, b.byteOffset, n);
      let off = 0;
      while (off + 16 <= n) {
        const len = bv.getUint32(off, true);
        if (len < 16 || off + len > n) throw new GraftError("malformed netlink message");
        const mType = bv.getUint16(off + 4, true);
        const mFlags = bv.getUint16(off + 6, true);
        const mSeq = bv.getUint32(off + 8, true);
        const mPid = bv.getUint32(off + 12, true);
        const body = b.slice(off + 16, off + len);
        off += align4(len);
        if (mSeq !== seq || mPid !== this.portId) continue; // not ours: stale or foreign
        if (mType === NLMSG_ERROR || (mType === NLMSG_DONE && body.length >= 4)) {
          const err = new DataView(body.buffer).getInt32(0, true);
          if (err !== 0) throw new NetlinkError(-err, extackMessage(body, mFlags), what);
          if (mType === NLMSG_ERROR && !dump) return out;
          if (mType === NLMSG_DONE) return out;
          continue;
        }
        if (mType === NLMSG_DONE) return out;
        out.push({ type: mType, flags: mFlags, payload: body });
        if (!dump && !(flags & NLM_F.ACK) && !(mFlags & NLM_F.MULTI)) return out;
      }
    }
    throw new GraftError("netlink: no end to the reply");
  }
}

/** The extended-ack message in an NLMSG_ERROR (or NLMSG_DONE) body, if any. */
function extackMessage(body: Uint8Array, flags: number): string | undefined {
  if (!(flags & NLM_F.ACK_TLVS)) return undefined;
  let off = 4;
  if (body.length >= 8) {
    // The echoed request: its header only when capped, else the whole message.
    const echoedLen = new DataView(body.buffer, body.byteOffset).getUint32(4, true);
    off += flags & NLM_F.CAPPED ? 16 : align4(echoedLen);
  }
  if (off > body.length) return undefined;
  try {
    return attr.str(parseAttrs(body.subarray(off)).get(NLMSGERR_ATTR_MSG));
  } catch {
    return undefined;
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
    for (const m of replies) {
      const id = attr.u16(parseAttrs(m.payload.subarray(4)).get(CTRL_ATTR_FAMILY_ID));
      if (id !== undefined) return id;
    }
    return undefined;
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === 2) return undefined; // ENOENT
    throw e;
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
