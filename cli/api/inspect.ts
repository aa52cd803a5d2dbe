/**
 * `graft inspect`: every network namespace on the host, the endpoints defined
 * in each (from the kernel module and from the broker), and the live grafted
 * sockets: which process, in which namespace, holds a socket that lives in
 * another namespace.
 *
 * How a grafted socket is recognised: sock_diag, asked inside namespace N,
 * lists the sockets that live in N (with their inodes); /proc/PID/fd shows
 * which process holds which socket inode, and /proc/PID/ns/net which
 * namespace that process is in. A socket held by a process of namespace A
 * but living in namespace B is grafted (the broker created it in B and handed
 * it over). It is named after the endpoint of A whose address it carries.
 *
 * With the kernel backend the host socket is held by af_graft.ko, not by a
 * descriptor, so the module is asked instead (GRAFT_CMD_SOCK_GET, inside
 * each namespace): it lists the graft sockets of that namespace with their
 * inodes, endpoints, host namespaces and host sockets' addresses, state and
 * byte counters; the holder is the process whose /proc/PID/fd shows the
 * graft socket's inode.
 *
 * @module
 */

import { brokerSocketPath, brokerStatus } from "../broker/client.ts";
import { emptyMaps, type NamespaceMaps } from "../model/nsmap.ts";
import type { Endpoint } from "../model/endpoint.ts";
import { closeFd, openFd, SysError } from "../sys/ffi.ts";
import {
  kernelAvailable,
  kernelBackend,
  type KernelSocket,
  listKernelSockets,
} from "../backends/kernel.ts";
import { netnsIdOfPath, openNetns, withNetns } from "../sys/netns.ts";
import {
  displayName,
  type FoundNamespace,
  type HostScan,
  type InspectProcess,
  scanHost,
} from "../sys/procscan.ts";
import { type DiagSocket, dumpSockets, formatLocal, formatRemote } from "../sys/sockdiag.ts";

export type { InspectProcess };

/** An endpoint and who keeps it. */
export type InspectEndpoint = Endpoint & {
  /** "broker" (graft daemon) or "kernel" (af_graft.ko). */
  source: "broker" | "kernel";
};

/** A grafted socket: held in one namespace, living in another. */
export interface GraftedSocket {
  /** The holding process. */
  pid: number;
  /** Its command name. */
  comm: string;
  /** The descriptors it holds the socket by. */
  fds: number[];
  /** The holder's namespace (display name). */
  netns: string;
  /** The namespace the socket lives in (display name). */
  socketNetns: string;
  /** Inode of the namespace the socket lives in. */
  socketNetnsIno: number;
  /** The endpoint of the holder's namespace the socket matches, if any. */
  endpoint?: string;
  /** tcp, udp or unix. */
  proto: DiagSocket["proto"];
  /** ipv4, ipv6 or unix. */
  family: DiagSocket["family"];
  /** LISTEN, ESTAB, UNCONN, ... */
  state: string;
  /** Local address (`127.0.0.1:8080`, `[::1]:80` or a path). */
  local: string;
  /** Remote address, `*` when not connected. */
  remote: string;
  /** Payload bytes sent (TCP). */
  bytesSent?: number;
  /** Bytes received (TCP). */
  bytesReceived?: number;
  /** The socket's inode: the one the holder's descriptors show. */
  inode: number;
  /**
   * Who keeps the host socket: "broker" (handed over, the holder owns it) or
   * "kernel" (af_graft.ko; `inode` is then the graft socket's).
   */
  backend?: "broker" | "kernel";
  /** With the kernel backend, the host socket's inode in its namespace. */
  hostInode?: number;
}

/** One namespace in the report. */
export interface InspectNamespace {
  /** Display name: NAME, "host", "pid:PID" or "ns:INODE". */
  name: string;
  /** All names (bind mounts). */
  names: string[];
  /** nsfs inode. */
  ino: number;
  /** True for the initial namespace. */
  host: boolean;
  /** Processes in it, by PID. */
  processes: InspectProcess[];
  /** Endpoints defined in it. */
  endpoints: InspectEndpoint[];
  /** Its default mappings (kept by the broker; `graft map`). */
  maps: NamespaceMaps;
  /** Grafted sockets held by its processes. */
  grafted: GraftedSocket[];
  /** How many grafted sockets held from other namespaces live here. */
  hosted: number;
}

/** Everything `graft inspect` reports. */
export interface InspectReport {
  /** The broker asked, and whether it answered. */
  broker: { socket: string; running: boolean; pid?: number; error?: string };
  /** Whether the af_graft kernel module is loaded. */
  kernel: { available: boolean };
  /** The namespaces shown. */
  namespaces: InspectNamespace[];
  /** Namespaces found but left out (nothing grafted, no endpoints, unnamed); --all shows them. */
  hidden: number;
  /** Parts that could not be read. */
  warnings: string[];
  /** How long the inspection took, in milliseconds. */
  elapsedMs: number;
}

/** Options of {@link inspect}. */
export interface InspectOptions {
  /** Show every namespace, even unnamed ones with nothing grafted. */
  all?: boolean;
  /** Broker socket path (default: GRAFT_SOCKET or /run/graft/graft.sock). */
  brokerSocket?: string;
  /** Only this namespace (a name under /run/netns, a PID or a path); implies `all`. */
  netns?: string;
}

/** Does socket `s` carry endpoint `ep`'s address? */
export function socketMatchesEndpoint(s: DiagSocket, ep: Endpoint): boolean {
  if (ep.type === "unix") return s.proto === "unix" && s.path === ep.path;
  if (s.proto === "unix" || s.localAddr === undefined) return false;
  let addr = s.localAddr;
  if (ep.type === "ipv4" && s.family === "ipv6" && addr.startsWith("::ffff:")) {
    addr = addr.slice(7); // a v4-mapped IPv6 socket carrying an IPv4 endpoint
    if (!addr.includes(".")) {
      const [hi, lo] = addr.split(":").map((g) => parseInt(g, 16));
      addr = [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
    }
  } else if ((ep.type === "ipv4") !== (s.family === "ipv4")) return false;
  if (addr !== ep.addr) return false;
  return ep.port === "dynamic" || ep.port === s.localPort;
}

/** The endpoint a grafted socket was made for: fixed ports before dynamic ones. */
export function matchEndpoint(s: DiagSocket, eps: Endpoint[]): Endpoint | undefined {
  const hits = eps.filter((e) => socketMatchesEndpoint(s, e));
  return hits.find((e) => e.type === "unix" || e.port !== "dynamic") ?? hits[0];
}

/** Inspect the host: namespaces, endpoints, grafted sockets. */
export function inspect(opts: InspectOptions = {}): Promise<InspectReport> {
  if (opts.netns === undefined) return Promise.resolve(inspectSync(opts));
  const fd = openNetns(opts.netns);
  const ino = netnsIdOfPath(`/proc/self/fd/${fd}`)?.ino;
  closeFd(fd);
  const report = inspectSync({ ...opts, all: true });
  report.namespaces = report.namespaces.filter((n) => n.ino === ino);
  report.hidden = 0;
  return Promise.resolve(report);
}

/** What the phases of an inspection collect. */
interface Collected {
  scan: HostScan;
  warnings: string[];
  /** Endpoints by namespace inode. */
  endpoints: Map<number, InspectEndpoint[]>;
  /** Default mappings by namespace inode. */
  maps: Map<number, NamespaceMaps>;
  broker: InspectReport["broker"];
  kernel: boolean;
  /** The kernel's graft sockets by namespace inode. */
  kernelSockets: Map<number, KernelSocket[]>;
  /** Every socket dumped, by inode, with the namespace it lives in. */
  sockets: Map<number, { s: DiagSocket; ns: number }>;
  unixByIno: Map<number, DiagSocket>;
  /** Grafted sockets by the holder's namespace inode. */
  grafted: Map<number, GraftedSocket[]>;
  /** How many grafted sockets live in each namespace. */
  hosted: Map<number, number>;
}

function addTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k) ?? [];
  list.push(v);
  m.set(k, list);
}

/** {@link inspect}, synchronously (everything it does is synchronous). */
export function inspectSync(opts: InspectOptions = {}): InspectReport {
  const t0 = performance.now();
  const c: Collected = {
    scan: scanHost({ sockets: true }),
    warnings: [],
    endpoints: new Map(),
    maps: new Map(),
    broker: { socket: opts.brokerSocket ?? brokerSocketPath(), running: false },
    kernel: kernelAvailable(),
    kernelSockets: new Map(),
    sockets: new Map(),
    unixByIno: new Map(),
    grafted: new Map(),
    hosted: new Map(),
  };
  readBrokerEndpoints(c);
  readNamespaces(c);
  findBrokerGrafts(c);
  findKernelGrafts(c);
  return report(c, opts, t0);
}

/** Endpoints the broker keeps, all namespaces in one request. */
function readBrokerEndpoints(c: Collected): void {
  try {
    const st = brokerStatus(c.broker.socket);
    c.broker.running = true;
    c.broker.pid = st.pid;
    for (const ns of st.namespaces) {
      for (const ep of ns.endpoints) addTo(c.endpoints, ns.ino, { ...ep, source: "broker" });
      c.maps.set(ns.ino, ns.maps);
      if (!c.scan.namespaces.has(ns.ino)) {
        c.scan.namespaces.set(ns.ino, { ino: ns.ino, names: [], host: false, processes: [] });
      }
    }
  } catch (e) {
    c.broker.error = (e as Error).message;
  }
}

/** Sockets, and the kernel's endpoints and sockets, asked inside each namespace. */
function readNamespaces(c: Collected): void {
  const selfIno = netnsIdOfPath("/proc/thread-self/ns/net")?.ino;
  const warned = new Set<string>();
  let denied = 0;
  for (const ns of c.scan.namespaces.values()) {
    if (!ns.openPath) continue;
    let fd: number;
    try {
      fd = openFd(ns.openPath);
    } catch {
      continue; // gone since the scan
    }
    try {
      // Our own namespace needs no setns (and no privilege).
      readNamespace(c, ns, ns.ino === selfIno ? undefined : fd, warned);
    } catch (e) {
      if (e instanceof SysError && e.code === "EPERM") denied++;
      else c.warnings.push(`${displayName(ns)}: ${(e as Error).message}`);
    } finally {
      closeFd(fd);
    }
  }
  if (denied) {
    c.warnings.push(`could not enter ${denied} namespace(s): reading their sockets needs root`);
  }
}

function readNamespace(
  c: Collected,
  ns: FoundNamespace,
  fd: number | undefined,
  warned: Set<string>,
): void {
  const dump = withNetns(fd, () => dumpSockets());
  for (const err of dump.errors) c.warnings.push(`${displayName(ns)}: ${err}`);
  for (const s of dump.sockets) {
    if (s.inode === 0) continue;
    c.sockets.set(s.inode, { s, ns: ns.ino });
    if (s.proto === "unix") c.unixByIno.set(s.inode, s);
  }
  if (!c.kernel) return;
  // One warning per kind: the same failure would repeat in every namespace.
  const once = (what: string, e: unknown) => {
    if (!warned.has(what)) c.warnings.push(`${what}: ${(e as Error).message}`);
    warned.add(what);
  };
  const where = { netnsFd: fd };
  try {
    for (const ep of kernelBackend.list(where)) {
      addTo(c.endpoints, ns.ino, { ...ep, source: "kernel" });
    }
  } catch (e) {
    once("kernel endpoints", e);
  }
  try {
    const list = listKernelSockets(where);
    if (list.length) c.kernelSockets.set(ns.ino, list);
  } catch (e) {
    once("kernel sockets", e);
  }
}

function nameOf(c: Collected, ino: number): string {
  const ns = c.scan.namespaces.get(ino);
  return ns ? displayName(ns) : `ns:${ino}`;
}

function addGraft(c: Collected, holderNs: number, sockNs: number, g: GraftedSocket): void {
  addTo(c.grafted, holderNs, g);
  if (sockNs) c.hosted.set(sockNs, (c.hosted.get(sockNs) ?? 0) + 1);
}

/** Grafted sockets of the broker: living in one namespace, held from another. */
function findBrokerGrafts(c: Collected): void {
  for (const [inode, hs] of c.scan.holders) {
    const found = c.sockets.get(inode);
    if (!found) continue;
    const { s, ns: sockNs } = found;
    for (const h of hs) {
      if (h.netnsIno === sockNs) continue;
      // The server end of a Unix connection lives in the connecting client's
      // namespace: the broker's control connections are not grafted sockets.
      if (s.proto === "unix" && h.pid === c.broker.pid) continue;
      let remote = formatRemote(s);
      if (s.proto === "unix" && s.peerInode) {
        const peer = c.unixByIno.get(s.peerInode);
        if (peer?.path) remote = peer.path;
      }
      addGraft(c, h.netnsIno, sockNs, {
        pid: h.pid,
        comm: h.comm,
        fds: h.fds,
        netns: nameOf(c, h.netnsIno),
        socketNetns: nameOf(c, sockNs),
        socketNetnsIno: sockNs,
        endpoint: matchEndpoint(s, c.endpoints.get(h.netnsIno) ?? [])?.name,
        proto: s.proto,
        family: s.family,
        state: s.state,
        local: formatLocal(s),
        remote,
        bytesSent: s.bytesSent,
        bytesReceived: s.bytesReceived,
        inode,
        backend: "broker",
      });
    }
  }
}

/**
 * Grafted sockets of the kernel backend: the graft socket lives in the
 * namespace that listed it, the host socket where the kernel says.
 */
function findKernelGrafts(c: Collected): void {
  let unheld = 0;
  for (const list of c.kernelSockets.values()) {
    for (const ks of list) {
      const hs = c.scan.holders.get(ks.graftInode) ?? [];
      const sockNs = ks.netnsIno ?? c.sockets.get(ks.host.inode)?.ns ?? 0;
      for (const h of hs) {
        addGraft(c, h.netnsIno, sockNs, {
          pid: h.pid,
          comm: h.comm,
          fds: h.fds,
          netns: nameOf(c, h.netnsIno),
          socketNetns: sockNs ? nameOf(c, sockNs) : "?",
          socketNetnsIno: sockNs,
          endpoint: ks.endpoint,
          proto: ks.host.proto,
          family: ks.host.family,
          state: ks.host.state,
          local: formatLocal(ks.host),
          remote: ks.peerPath ?? formatRemote(ks.host),
          bytesSent: ks.host.bytesSent,
          bytesReceived: ks.host.bytesReceived,
          inode: ks.graftInode,
          backend: "kernel",
          hostInode: ks.host.inode,
        });
      }
      if (!hs.length) unheld++;
    }
  }
  if (unheld) {
    c.warnings.push(
      `${unheld} kernel graft socket(s) held by no process found in /proc ` +
        "(opened or handed on during the scan?)",
    );
  }
}

/** The report: every namespace sorted (host, named, unnamed), the quiet ones hidden unless `all`. */
function report(c: Collected, opts: InspectOptions, t0: number): InspectReport {
  const all: InspectNamespace[] = [];
  for (const ns of c.scan.namespaces.values()) {
    const g = c.grafted.get(ns.ino) ?? [];
    g.sort((a, b) => a.pid - b.pid || a.inode - b.inode);
    const eps = c.endpoints.get(ns.ino) ?? [];
    eps.sort((a, b) => a.name.localeCompare(b.name) || a.source.localeCompare(b.source));
    all.push({
      name: displayName(ns),
      names: ns.names,
      ino: ns.ino,
      host: ns.host,
      processes: ns.processes.sort((a, b) => a.pid - b.pid),
      endpoints: eps,
      maps: c.maps.get(ns.ino) ?? emptyMaps(),
      grafted: g,
      hosted: c.hosted.get(ns.ino) ?? 0,
    });
  }
  const rank = (n: InspectNamespace) => (n.host ? 0 : n.names.length ? 1 : 2);
  all.sort((a, b) =>
    rank(a) - rank(b) || a.name.localeCompare(b.name, "en", { numeric: true }) || a.ino - b.ino
  );
  const shown = opts.all
    ? all
    : all.filter((n) =>
      n.host || n.names.length > 0 || n.endpoints.length > 0 || n.grafted.length > 0 ||
      n.hosted > 0 || n.maps.ingress.length + n.maps.egress.length > 0
    );
  return {
    broker: c.broker,
    kernel: { available: c.kernel },
    namespaces: shown,
    hidden: all.length - shown.length,
    warnings: c.warnings,
    elapsedMs: Math.round((performance.now() - t0) * 10) / 10,
  };
}

// ---------------------------------------------------------------------------
// The table.

/** A byte count in at most 6 characters: 512, 1.5K, 23M, 4.0G. */
export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "-";
  const units = ["", "K", "M", "G", "T", "P"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return String(n);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}

/** Cut a string to `w` characters, marking the cut with "~". */
export function clip(s: string, w: number): string {
  if (s.length <= w) return s;
  if (w <= 1) return s.slice(0, w);
  return s.slice(0, w - 1) + "~";
}

interface Column {
  /** Header text. */
  head: string;
  /** Narrowest the column may become. */
  min: number;
  /** Right-align (numbers). */
  right?: boolean;
}

/**
 * Lay rows out as columns in `width` characters: columns take their natural
 * width; when that is too wide the widest shrinkable ones are cut, never
 * below their minimum.
 */
export function table(cols: Column[], rows: string[][], width: number, indent = ""): string[] {
  const w = cols.map((c, i) => Math.max(c.head.length, ...rows.map((r) => r[i].length)));
  const total = () => indent.length + w.reduce((a, b) => a + b, 0) + (w.length - 1) * 2;
  while (total() > width) {
    let best = -1;
    for (let i = 0; i < w.length; i++) {
      if (w[i] > cols[i].min && (best < 0 || w[i] - cols[i].min > w[best] - cols[best].min)) {
        best = i;
      }
    }
    if (best < 0) break;
    w[best]--;
  }
  const line = (cells: string[]) =>
    (indent + cells.map((c, i) => {
      const t = clip(c, w[i]);
      return cols[i].right ? t.padStart(w[i]) : t.padEnd(w[i]);
    }).join("  ")).trimEnd();
  return [line(cols.map((c) => c.head)), ...rows.map(line)];
}

/** Items joined by ", " after `lead`, wrapped to `width`, in at most `maxLines` lines. */
export function wrapList(lead: string, items: string[], width: number, maxLines: number): string[] {
  const lines: string[] = [];
  const pad = "    ";
  let cur = lead;
  for (let i = 0; i < items.length; i++) {
    const piece = items[i] + (i < items.length - 1 ? "," : "");
    const last = lines.length + 1 >= maxLines;
    const room = width - (last && i < items.length - 1 ? 14 : 0); // "... 12345 more"
    if (cur !== lead && cur !== pad && cur.length + 1 + piece.length > room) {
      if (last) {
        lines.push(`${cur} ... ${items.length - i} more`);
        return lines;
      }
      lines.push(cur);
      cur = pad;
    }
    cur += " " + piece;
  }
  lines.push(cur);
  return lines;
}

function endpointAddress(ep: Endpoint): string {
  if (ep.type === "unix") return ep.path;
  return ep.type === "ipv6" ? `[${ep.addr}]:${ep.port}` : `${ep.addr}:${ep.port}`;
}

/** The report as text for a terminal `width` columns wide. */
export function formatInspect(r: InspectReport, width = 80, all = false): string {
  const out = formatSummary(r);
  for (const ns of r.namespaces) {
    out.push("", ...formatNamespaceHead(ns, width, all));
    if (ns.endpoints.length) out.push(...formatEndpointTable(ns.endpoints, width));
    out.push(
      ...ns.maps.ingress.map((t) => `  map -i ${t}`),
      ...ns.maps.egress.map((t) => `  map -e ${t}`),
    );
    if (ns.grafted.length) out.push(...formatGraftedTable(ns.grafted, width));
  }
  out.push("");
  out.push(`inspected in ${r.elapsedMs} ms`);
  return out.join("\n");
}

/** The lines above the namespaces: counts, broker, kernel, warnings. */
function formatSummary(r: InspectReport): string[] {
  const nEp = r.namespaces.reduce((a, n) => a + n.endpoints.length, 0);
  const nG = r.namespaces.reduce((a, n) => a + n.grafted.length, 0);
  const hidden = r.hidden ? ` (${r.hidden} more with --all)` : "";
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? "" : "s"}`;
  return [
    `${n(r.namespaces.length, "namespace")}${hidden}, ${n(nEp, "endpoint")}, ` +
    n(nG, "grafted socket"),
    r.broker.running
      ? `broker: pid ${r.broker.pid} at ${r.broker.socket}`
      : `broker: ${r.broker.error ?? `not answering at ${r.broker.socket}`}`,
    `kernel: ${r.kernel.available ? "af_graft loaded" : "af_graft not loaded"}`,
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
}

/** A namespace's title line, its processes, and what it hosts for others. */
function formatNamespaceHead(ns: InspectNamespace, width: number, all: boolean): string[] {
  const out: string[] = [];
  const what = [`netns ${ns.ino}`, ns.host ? "initial" : ns.names.length ? "named" : "unnamed"];
  if (ns.names.length > 1 || (ns.host && ns.names.length)) what.push(ns.names.join(" "));
  out.push(clip(`${ns.name} (${what.join(", ")})`, width));
  const procs = ns.processes.map((p) => `${p.pid} ${p.comm}`);
  out.push(
    ...(procs.length
      ? wrapList(`  processes (${procs.length}):`, procs, width, all ? Infinity : 2)
      : ["  processes: none"]),
  );
  if (ns.hosted) {
    out.push(`  holds ${ns.hosted} grafted socket(s) of processes in other namespaces`);
  }
  return out;
}

function formatEndpointTable(eps: InspectEndpoint[], width: number): string[] {
  return table(
    [
      { head: "ENDPOINT", min: 8 },
      { head: "TYPE", min: 4 },
      { head: "ADDRESS", min: 12 },
      { head: "TARGET", min: 6 },
      { head: "FROM", min: 6 },
    ],
    eps.map((e) => [e.name, e.type, endpointAddress(e), e.netns ?? "host", e.source]),
    width,
    "  ",
  );
}

/** The grafted sockets, each row followed by its addresses. */
function formatGraftedTable(grafted: GraftedSocket[], width: number): string[] {
  const rows = grafted.map((g) => [
    String(g.pid),
    g.comm,
    g.endpoint ?? "-",
    g.proto,
    g.state,
    g.socketNetns,
    formatBytes(g.bytesSent),
    formatBytes(g.bytesReceived),
  ]);
  const lines = table(
    [
      { head: "PID", min: 3 },
      { head: "PROCESS", min: 6 },
      { head: "ENDPOINT", min: 8 },
      { head: "PROTO", min: 5 },
      { head: "STATE", min: 6 },
      { head: "SOCKET IN", min: 6 },
      { head: "SENT", min: 4, right: true },
      { head: "RECV", min: 4, right: true },
    ],
    rows,
    width,
    "  ",
  );
  const out = [lines[0]];
  grafted.forEach((g, i) => {
    out.push(lines[i + 1]);
    const addr = `    local ${g.local}  remote ${g.remote}`;
    if (addr.length <= width) out.push(addr);
    else out.push(clip(`    local ${g.local}`, width), clip(`    remote ${g.remote}`, width));
  });
  return out;
}
