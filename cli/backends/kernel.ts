/**
 * The kernel backend: endpoints kept by af_graft.ko, managed over the generic
 * netlink family "af_graft" (see kernel/uapi/af_graft.h for every command and
 * attribute). Requests act in the namespace the netlink socket was created
 * in, so `-n NETNS` simply opens the socket there.
 *
 * @module
 */

import { formatIP, parseIPv4, parseIPv6 } from "../model/addr.ts";
import { decodeSockaddr } from "../sys/sockaddr.ts";
import type { EndpointBackend, Where } from "./backend.ts";
import type { Endpoint, EndpointFlag } from "../model/endpoint.ts";
import { UAPI } from "../model/contract_gen.ts";
import { GraftError } from "../model/errors.ts";
import { C, closeFd, Errno } from "../sys/ffi.ts";
import {
  attr,
  attrU64,
  AttrWriter,
  GenlFamily,
  NetlinkError,
  NLM_F,
  parseAttrs,
} from "../sys/netlink.ts";
import { openNetns } from "../sys/netns.ts";
import { type DiagSocket, TCP_STATES } from "../sys/sockdiag.ts";

/** The generic netlink family name af_graft.ko registers. */
export const GENL_NAME = UAPI.AF_GRAFT_GENL_NAME;
const GENL_VERSION = UAPI.AF_GRAFT_GENL_VERSION;

/** Commands (enum graft_cmd of kernel/uapi/af_graft.h). */
export const Cmd = UAPI.graft_cmd;
/** Attributes (enum graft_attr). */
export const A = UAPI.graft_attr;
/** Endpoint types (enum graft_ep_type). */
export const EpType = UAPI.graft_ep_type;
/** Endpoint flags (enum graft_ep_flag). */
export const EpFlag = UAPI.graft_ep_flag;
/** The flag words' bits (GRAFT_EP_F_REUSEPORT, GRAFT_EP_F_ABSTRACT; docs/security.md). */
const FLAG_BITS: Record<EndpointFlag, number> = {
  reuseport: (EpFlag as Record<string, number>).REUSEPORT ?? 1 << 2,
  abstract: (EpFlag as Record<string, number>).ABSTRACT ?? 1 << 3,
};

function flagBits(ep: Endpoint): number {
  return (ep.flags ?? []).reduce((b, f) => b | FLAG_BITS[f], 0);
}

function flagWords(bits: number): { flags?: EndpointFlag[] } {
  const flags = (Object.keys(FLAG_BITS) as EndpointFlag[]).filter((f) => bits & FLAG_BITS[f]);
  return flags.length ? { flags: flags.sort() } : {};
}

/** True when the af_graft generic netlink family exists (the module is loaded). */
export function kernelAvailable(): boolean {
  try {
    const family = GenlFamily.open(GENL_NAME, GENL_VERSION);
    family?.close();
    return family !== undefined;
  } catch {
    return false;
  }
}

function withFamily<T>(where: Where, fn: (family: GenlFamily) => T): T {
  const family = GenlFamily.open(GENL_NAME, GENL_VERSION, where.netnsFd);
  if (family === undefined) {
    throw new GraftError("kernel backend unavailable: the af_graft module is not loaded");
  }
  try {
    return fn(family);
  } finally {
    family.close();
  }
}

/** Turn a kernel refusal into the same one-line wording the broker uses. */
function explain(e: unknown, name: string, op: "add" | "del" | "show"): never {
  if (!(e instanceof NetlinkError)) throw e;
  const why = e.extack ? ` (kernel: ${e.extack})` : "";
  switch (e.errno) {
    case Errno.EPERM:
      throw new GraftError(
        `${op === "del" ? "deleting" : "adding"} endpoints needs root (CAP_NET_ADMIN)${why}`,
        1,
        e.errno,
      );
    case Errno.EEXIST:
      throw new GraftError(`endpoint ${name} already exists in this namespace${why}`, 1, e.errno);
    case Errno.ENOENT:
      throw new GraftError(`no endpoint "${name}" in this namespace${why}`, 1, e.errno);
    default:
      throw new GraftError(`kernel refused to ${op} endpoint ${name}: ${e.message}`, 1, e.errno);
  }
}

/** Encode an endpoint as EP_ADD attributes. */
export function endpointAttrs(ep: Endpoint, netnsFd?: number): Uint8Array {
  const w = new AttrWriter().str(A.EP_NAME, ep.name);
  if (ep.type === "unix") {
    w.u8(A.EP_TYPE, EpType.UNIX).str(A.EP_PATH, ep.path);
    if (flagBits(ep)) w.u32(A.EP_FLAGS, flagBits(ep));
  } else {
    const bytes = ep.type === "ipv4" ? parseIPv4(ep.addr)! : parseIPv6(ep.addr)!;
    w.u8(A.EP_TYPE, ep.type === "ipv4" ? EpType.IPV4 : EpType.IPV6).raw(A.EP_ADDR, bytes);
    const bits = flagBits(ep) | (ep.port === "dynamic" ? EpFlag.DYNAMIC_PORT : 0);
    if (bits) w.u32(A.EP_FLAGS, bits);
    if (ep.port !== "dynamic") w.u16(A.EP_PORT, ep.port);
  }
  if (netnsFd !== undefined) w.u32(A.EP_NETNS_FD, netnsFd);
  return w.bytes();
}

/** Decode one EP_GET reply into an endpoint. */
export function endpointFromAttrs(payload: Uint8Array): Endpoint {
  const a = parseAttrs(payload);
  const name = attr.str(a.get(A.EP_NAME));
  const type = attr.u8(a.get(A.EP_TYPE));
  if (!name || type === undefined) {
    throw new GraftError("kernel sent an endpoint without name or type");
  }
  const pid = attr.u32(a.get(A.EP_NETNS_PID));
  const nsid = attr.s32(a.get(A.EP_NETNSID));
  const netns = pid !== undefined ? String(pid) : nsid !== undefined ? `nsid:${nsid}` : undefined;
  const where = netns !== undefined ? { netns } : {};
  const flags = attr.u32(a.get(A.EP_FLAGS)) ?? 0;
  if (type === EpType.UNIX) {
    const path = attr.str(a.get(A.EP_PATH)) ?? "";
    return { name, type: "unix", path, ...where, ...flagWords(flags) };
  }
  const addr = a.get(A.EP_ADDR);
  if (!addr || (addr.length !== 4 && addr.length !== 16)) {
    throw new GraftError(`kernel sent endpoint ${name} with a bad address`);
  }
  const port = flags & EpFlag.DYNAMIC_PORT ? "dynamic" as const : attr.u16(a.get(A.EP_PORT)) ?? 0;
  return {
    name,
    type: type === EpType.IPV4 ? "ipv4" : "ipv6",
    addr: formatIP(addr),
    port,
    ...where,
    ...flagWords(flags),
  };
}

/** Endpoint operations against af_graft.ko. */
export const kernelBackend: EndpointBackend = {
  kind: "kernel",
  add(ep, where) {
    const target = ep.netns !== undefined ? openNetns(ep.netns) : undefined;
    try {
      withFamily(where, (family) => {
        try {
          family.request(Cmd.EP_ADD, NLM_F.ACK, endpointAttrs(ep, target), "af_graft");
        } catch (e) {
          explain(e, ep.name, "add");
        }
      });
    } finally {
      if (target !== undefined) closeFd(target);
    }
  },
  del(name, where) {
    withFamily(where, (family) => {
      const attrs = new AttrWriter().str(A.EP_NAME, name).bytes();
      try {
        family.request(Cmd.EP_DEL, NLM_F.ACK, attrs, "af_graft");
      } catch (e) {
        explain(e, name, "del");
      }
    });
  },
  list(where) {
    return withFamily(where, (family) => {
      let replies;
      try {
        replies = family.request(Cmd.EP_GET, NLM_F.DUMP, undefined, "af_graft");
      } catch (e) {
        explain(e, "*", "show");
      }
      return replies.map((p) => endpointFromAttrs(p));
    });
  },
  mapAdd() {
    throw noKernelMaps();
  },
  mapDel() {
    throw noKernelMaps();
  },
  mapList() {
    throw noKernelMaps();
  },
};

/** af_graft.ko keeps endpoints only; a namespace's default mappings live in the broker. */
function noKernelMaps(): GraftError {
  return new GraftError(
    "af_graft.ko keeps no namespace mappings: use --backend broker for graft map, " +
      "or give -i/-e to graft run",
  );
}

/** A graft socket as af_graft.ko reports it (GRAFT_CMD_SOCK_GET). */
export interface KernelSocket {
  /** The graft socket's inode: what its holder's /proc/PID/fd/N shows as `socket:[INODE]`. */
  graftInode: number;
  /** The endpoint it was bound through. */
  endpoint: string;
  /** Inode of the namespace the host socket lives in (/proc/PID/ns/net's `net:[INODE]`). */
  netnsIno?: number;
  /**
   * The host socket, in sock_diag's terms: its inode (as sock_diag reports it
   * in its namespace), addresses, state and TCP byte counters.
   */
  host: DiagSocket;
  /** The host socket's peer path (connected unix sockets). */
  peerPath?: string;
}

const IPPROTO_TCP = 6;
const SOCK_STREAM = 1;
const UNIX_TYPES: Record<number, string> = { 1: "stream", 2: "dgram", 5: "seqpacket" };

/** A unix socket address's path: `@NAME` for abstract names, undefined when unbound. */
function unixPath(b: Uint8Array): string | undefined {
  const raw = b.subarray(2);
  if (raw.length === 0) return undefined;
  if (raw[0] === 0) return "@" + new TextDecoder().decode(raw.subarray(1));
  const nul = raw.indexOf(0);
  return new TextDecoder().decode(nul >= 0 ? raw.subarray(0, nul) : raw);
}

/** Decode one GRAFT_CMD_SOCK_GET message (attributes after the genl header). */
export function kernelSocketFromAttrs(payload: Uint8Array): KernelSocket {
  const a = parseAttrs(payload);
  const graftInode = attrU64(a.get(A.SOCK_INODE));
  const endpoint = attr.str(a.get(A.EP_NAME));
  const af = attr.u16(a.get(A.SOCK_FAMILY));
  const type = attr.u16(a.get(A.SOCK_TYPE));
  if (graftInode === undefined || endpoint === undefined || af === undefined || !type) {
    throw new GraftError("kernel sent a graft socket without inode, endpoint, family or type");
  }
  const protocol = attr.u16(a.get(A.SOCK_PROTOCOL)) ?? 0;
  const state = attr.u8(a.get(A.SOCK_STATE)) ?? 0;
  const local = a.get(A.SOCK_LOCAL);
  const peer = a.get(A.SOCK_PEER);
  const host: DiagSocket = {
    proto: af === C.AF_UNIX
      ? "unix"
      : type === SOCK_STREAM || protocol === IPPROTO_TCP
      ? "tcp"
      : "udp",
    family: af === C.AF_INET ? "ipv4" : af === C.AF_INET6 ? "ipv6" : "unix",
    inode: attrU64(a.get(A.SOCK_HOST_INODE)) ?? 0,
    state: TCP_STATES[state] ?? `state-${state}`,
    bytesSent: attrU64(a.get(A.SOCK_BYTES_SENT)),
    bytesReceived: attrU64(a.get(A.SOCK_BYTES_RECEIVED)),
  };
  let peerPath: string | undefined;
  if (af === C.AF_UNIX) {
    host.unixType = UNIX_TYPES[type] ?? `type-${type}`;
    if (local) host.path = unixPath(local);
    if (peer) peerPath = unixPath(peer) ?? "*";
  } else {
    const l = local ? decodeSockaddr(local) : undefined;
    if (l && (l.family === "ipv4" || l.family === "ipv6")) {
      host.localAddr = l.addr;
      host.localPort = l.port;
    }
    const p = peer ? decodeSockaddr(peer) : undefined;
    if (p && (p.family === "ipv4" || p.family === "ipv6")) {
      host.remoteAddr = p.addr;
      host.remotePort = p.port;
    } else {
      host.remoteAddr = host.family === "ipv6" ? "::" : "0.0.0.0";
      host.remotePort = 0;
    }
  }
  if (host.proto !== "tcp") {
    delete host.bytesSent;
    delete host.bytesReceived;
  }
  const netnsIno = attr.u32(a.get(A.SOCK_NETNS_INO));
  return {
    graftInode,
    endpoint,
    host,
    ...(netnsIno !== undefined ? { netnsIno } : {}),
    ...(peerPath !== undefined ? { peerPath } : {}),
  };
}

/**
 * The bound graft sockets of a namespace (GRAFT_CMD_SOCK_GET): those whose
 * graft socket lives in `where` (the caller's namespace by default). Needs
 * no privilege in the caller's own namespace; entering another needs root.
 */
export function listKernelSockets(where: Where): KernelSocket[] {
  return withFamily(where, (family) => {
    const replies = family.request(Cmd.SOCK_GET, NLM_F.DUMP, undefined, "af_graft sockets");
    return replies.map((p) => kernelSocketFromAttrs(p));
  });
}
