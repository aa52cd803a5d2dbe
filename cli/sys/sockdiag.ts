/**
 * Reading sockets through NETLINK_SOCK_DIAG, as `ss` does, without `ss`:
 * TCP and UDP over IPv4 and IPv6 (inet_diag, with `struct tcp_info` for byte
 * counters) and Unix sockets (unix_diag).
 *
 * A sock_diag socket answers for the network namespace it was created in, so
 * {@link dumpSockets} reads the sockets of the calling thread's namespace; run
 * it under `withNetns` to read another one.
 *
 * The encoders and decoders are pure functions over bytes (tested without a
 * kernel); the exchange itself is netlink.ts's (sequence and port checks,
 * dumps to NLMSG_DONE, errors with the kernel's extended-ack text).
 *
 * @module
 */

import { formatIP } from "../model/addr.ts";
import { C, SysError } from "./ffi.ts";
import {
  MalformedMessageError,
  NETLINK_SOCK_DIAG,
  NetlinkError,
  NetlinkSocket,
  NLM_F,
  nlmsg,
  parseAttrs,
} from "./netlink.ts";
/** The one sock_diag request type: dump or get sockets of a family. */
export const SOCK_DIAG_BY_FAMILY = 20;

/** inet_diag: attribute carrying `struct tcp_info`. */
const INET_DIAG_INFO = 2;
/** Size of `struct inet_diag_req_v2`. */
const INET_DIAG_REQ_LEN = 56;
/** Size of `struct inet_diag_msg`. */
const INET_DIAG_MSG_LEN = 72;
/** Size of `struct unix_diag_req`. */
const UNIX_DIAG_REQ_LEN = 24;
/** Size of `struct unix_diag_msg`. */
const UNIX_DIAG_MSG_LEN = 16;

const UNIX_DIAG_NAME = 0;
const UNIX_DIAG_PEER = 2;
const UNIX_DIAG_RQLEN = 4;
const UDIAG_SHOW_NAME = 0x1;
const UDIAG_SHOW_PEER = 0x4;
const UDIAG_SHOW_RQLEN = 0x10;

/** Offsets in `struct tcp_info` (linux/tcp.h) of the RFC 4898 byte counters. */
const TCPI_BYTES_ACKED = 120;
const TCPI_BYTES_RECEIVED = 128;
/** tcpi_bytes_sent (Linux 4.19+): payload bytes sent, retransmissions included. */
const TCPI_BYTES_SENT = 200;

/** TCP states by number (include/net/tcp_states.h), as `ss` names them. */
export const TCP_STATES: Record<number, string> = {
  1: "ESTAB",
  2: "SYN-SENT",
  3: "SYN-RECV",
  4: "FIN-WAIT-1",
  5: "FIN-WAIT-2",
  6: "TIME-WAIT",
  7: "UNCONN",
  8: "CLOSE-WAIT",
  9: "LAST-ACK",
  10: "LISTEN",
  11: "CLOSING",
  12: "NEW-SYN-RECV",
  13: "BOUND",
};

/**
 * States asked for: everything that can belong to a descriptor. TIME-WAIT and
 * the two SYN-RECV kinds are mini-sockets without an inode; leaving them out
 * keeps a busy host's dump small. Bit 13 (bound, not yet listening or
 * connected) is dumped by kernels since 6.3 and ignored by older ones.
 */
export const TCP_STATES_WANTED = 0xffffffff & ~((1 << 6) | (1 << 3) | (1 << 12));

/** The transport protocols sock_diag is asked about. */
export type DiagProto = "tcp" | "udp" | "unix";

/** One socket as sock_diag reports it. */
export interface DiagSocket {
  /** tcp, udp or unix. */
  proto: DiagProto;
  /** Address family of the socket. */
  family: "ipv4" | "ipv6" | "unix";
  /** The socket's inode: what /proc/PID/fd shows as `socket:[INODE]`. */
  inode: number;
  /** State as `ss` names it: LISTEN, ESTAB, UNCONN, ... */
  state: string;
  /** Owner uid (inet sockets). */
  uid?: number;
  /** Local address (inet). */
  localAddr?: string;
  /** Local port (inet). */
  localPort?: number;
  /** Remote address (inet). */
  remoteAddr?: string;
  /** Remote port (inet). */
  remotePort?: number;
  /** Bound path (unix); abstract names start with "@". */
  path?: string;
  /** Unix socket type: stream, dgram or seqpacket. */
  unixType?: string;
  /** Inode of the connected peer (unix). */
  peerInode?: number;
  /** Payload bytes sent (TCP: tcpi_bytes_sent, or tcpi_bytes_acked on old kernels). */
  bytesSent?: number;
  /** Bytes acknowledged by the peer (TCP, tcpi_bytes_acked; counts the SYN). */
  bytesAcked?: number;
  /** Bytes received (TCP, tcpi_bytes_received). */
  bytesReceived?: number;
  /** Receive queue length. */
  rqueue?: number;
  /** Send queue length. */
  wqueue?: number;
}

/**
 * An inet_diag dump request (`struct inet_diag_req_v2`) for one family and
 * protocol; for TCP it asks for `struct tcp_info` too.
 */
export function inetDiagRequest(
  seq: number,
  family: number,
  protocol: number,
  states: number = TCP_STATES_WANTED,
): Uint8Array {
  const req = new Uint8Array(INET_DIAG_REQ_LEN);
  const v = new DataView(req.buffer);
  v.setUint8(0, family);
  v.setUint8(1, protocol);
  v.setUint8(2, protocol === C.IPPROTO_TCP ? 1 << (INET_DIAG_INFO - 1) : 0);
  v.setUint32(4, states >>> 0, true);
  // The socket id (48 bytes) stays zero: a dump matches every socket.
  return nlmsg(SOCK_DIAG_BY_FAMILY, NLM_F.REQUEST | NLM_F.DUMP, seq, req);
}

/** A unix_diag dump request (`struct unix_diag_req`) for every state. */
export function unixDiagRequest(seq: number): Uint8Array {
  const req = new Uint8Array(UNIX_DIAG_REQ_LEN);
  const v = new DataView(req.buffer);
  v.setUint8(0, C.AF_UNIX);
  v.setUint32(4, 0xffffffff, true);
  v.setUint32(12, UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN, true);
  return nlmsg(SOCK_DIAG_BY_FAMILY, NLM_F.REQUEST | NLM_F.DUMP, seq, req);
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? b.subarray(0, nul) : b);
}

function u64(v: DataView, off: number): number {
  return Number(v.getBigUint64(off, true));
}

/** Decode one `struct inet_diag_msg` and its attributes. */
export function decodeInetDiag(payload: Uint8Array, proto: "tcp" | "udp"): DiagSocket {
  if (payload.length < INET_DIAG_MSG_LEN) {
    throw new MalformedMessageError(`inet_diag_msg of ${payload.length} bytes`);
  }
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const af = v.getUint8(0);
  if (af !== C.AF_INET && af !== C.AF_INET6) {
    throw new MalformedMessageError(`inet_diag_msg of family ${af}`);
  }
  const alen = af === C.AF_INET ? 4 : 16;
  const state = v.getUint8(1);
  const s: DiagSocket = {
    proto,
    family: af === C.AF_INET ? "ipv4" : "ipv6",
    inode: v.getUint32(68, true),
    state: TCP_STATES[state] ?? `state-${state}`,
    uid: v.getUint32(64, true),
    localAddr: formatIP(payload.slice(8, 8 + alen)),
    localPort: v.getUint16(4, false),
    remoteAddr: formatIP(payload.slice(24, 24 + alen)),
    remotePort: v.getUint16(6, false),
    rqueue: v.getUint32(56, true),
    wqueue: v.getUint32(60, true),
  };
  const attrs = parseAttrs(payload.subarray(INET_DIAG_MSG_LEN));
  const info = attrs.get(INET_DIAG_INFO);
  if (proto === "tcp" && info && info.length >= TCPI_BYTES_RECEIVED + 8) {
    const iv = new DataView(info.buffer, info.byteOffset, info.byteLength);
    s.bytesAcked = u64(iv, TCPI_BYTES_ACKED);
    s.bytesReceived = u64(iv, TCPI_BYTES_RECEIVED);
    s.bytesSent = info.length >= TCPI_BYTES_SENT + 8 ? u64(iv, TCPI_BYTES_SENT) : s.bytesAcked;
  }
  return s;
}

const UNIX_TYPES: Record<number, string> = { 1: "stream", 2: "dgram", 5: "seqpacket" };

/** Decode one `struct unix_diag_msg` and its attributes. */
export function decodeUnixDiag(payload: Uint8Array): DiagSocket {
  if (payload.length < UNIX_DIAG_MSG_LEN) {
    throw new MalformedMessageError(`unix_diag_msg of ${payload.length} bytes`);
  }
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const type = v.getUint8(1);
  const state = v.getUint8(2);
  const s: DiagSocket = {
    proto: "unix",
    family: "unix",
    inode: v.getUint32(4, true),
    state: TCP_STATES[state] ?? `state-${state}`,
    unixType: UNIX_TYPES[type] ?? `type-${type}`,
  };
  const attrs = parseAttrs(payload.subarray(UNIX_DIAG_MSG_LEN));
  const name = attrs.get(UNIX_DIAG_NAME);
  if (name && name.length > 0) {
    s.path = name[0] === 0 ? "@" + new TextDecoder().decode(name.subarray(1)) : cString(name);
  }
  const peer = attrs.get(UNIX_DIAG_PEER);
  if (peer) {
    if (peer.length !== 4) throw new MalformedMessageError(`UNIX_DIAG_PEER of ${peer.length}`);
    const ino = new DataView(peer.buffer, peer.byteOffset, 4).getUint32(0, true);
    if (ino) s.peerInode = ino;
  }
  const rq = attrs.get(UNIX_DIAG_RQLEN);
  if (rq) {
    if (rq.length !== 8) throw new MalformedMessageError(`UNIX_DIAG_RQLEN of ${rq.length}`);
    const qv = new DataView(rq.buffer, rq.byteOffset, 8);
    s.rqueue = qv.getUint32(0, true);
    s.wqueue = qv.getUint32(4, true);
  }
  return s;
}

/** Every TCP or UDP socket of one family, read through `sock`. */
function dumpInet(sock: NetlinkSocket, family: number, protocol: number): DiagSocket[] {
  const proto = protocol === C.IPPROTO_TCP ? "tcp" : "udp";
  const out: DiagSocket[] = [];
  const what = `sock_diag ${proto}${family === C.AF_INET6 ? "6" : ""} dump`;
  sock.exchange((seq) => inetDiagRequest(seq, family, protocol), what, (p) => {
    out.push(decodeInetDiag(p, proto));
  });
  return out;
}

/** Every Unix socket, read through `sock`. */
function dumpUnix(sock: NetlinkSocket): DiagSocket[] {
  const out: DiagSocket[] = [];
  sock.exchange((seq) => unixDiagRequest(seq), "sock_diag unix dump", (p) => {
    out.push(decodeUnixDiag(p));
  });
  return out;
}

/** The result of reading one namespace's sockets. */
export interface SocketDump {
  /** Every socket found. */
  sockets: DiagSocket[];
  /** One line per part that could not be read (e.g. udp_diag not loaded). */
  errors: string[];
}

/**
 * Every TCP, UDP (IPv4 and IPv6) and Unix socket of the calling thread's
 * network namespace. A protocol the kernel cannot dump is reported in
 * `errors` and the others are still read.
 */
export function dumpSockets(protos: DiagProto[] = ["tcp", "udp", "unix"]): SocketDump {
  const sock = new NetlinkSocket(NETLINK_SOCK_DIAG);
  const sockets: DiagSocket[] = [];
  const errors: string[] = [];
  const attempt = (fn: () => DiagSocket[]) => {
    try {
      for (const s of fn()) sockets.push(s);
    } catch (e) {
      if (
        e instanceof NetlinkError || e instanceof SysError || e instanceof MalformedMessageError
      ) {
        errors.push(e.message);
      } else throw e;
    }
  };
  try {
    for (const p of protos) {
      if (p === "unix") attempt(() => dumpUnix(sock));
      else {
        const ipproto = p === "tcp" ? C.IPPROTO_TCP : C.IPPROTO_UDP;
        attempt(() => dumpInet(sock, C.AF_INET, ipproto));
        attempt(() => dumpInet(sock, C.AF_INET6, ipproto));
      }
    }
  } finally {
    sock.close();
  }
  return { sockets, errors };
}

/** `127.0.0.1:80`, `[::1]:80`, a Unix path, or `*` for an unset address. */
export function formatLocal(s: DiagSocket): string {
  if (s.proto === "unix") return s.path ?? "*";
  return hostPort(s.localAddr ?? "", s.localPort ?? 0, s.family);
}

/** The remote end: address and port, or `*` when unconnected. */
export function formatRemote(s: DiagSocket): string {
  if (s.proto === "unix") return s.peerInode ? `peer ${s.peerInode}` : "*";
  const addr = s.remoteAddr ?? "";
  if ((addr === "0.0.0.0" || addr === "::") && !s.remotePort) return "*";
  return hostPort(addr, s.remotePort ?? 0, s.family);
}

function hostPort(addr: string, port: number, family: string): string {
  const p = port ? String(port) : "*";
  return family === "ipv6" ? `[${addr}]:${p}` : `${addr}:${p}`;
}
