/**
 * The one scanner of /proc and the mount table: every network namespace on
 * the host (named or not, with its processes), and which process holds which
 * socket. Used by `graft inspect`, `graft apply`/`export` and the broker's
 * namespace garbage collection.
 *
 * @module
 */

import { printable } from "../model/text.ts";
import { NETNS_RUN_DIR, netnsIdOfPath } from "./netns.ts";

/** A process, by PID and command name. */
export interface InspectProcess {
  /** Process id. */
  pid: number;
  /** Command name (/proc/PID/comm). */
  comm: string;
}

/** A network namespace found on the host. */
export interface FoundNamespace {
  /** nsfs inode: what /proc/PID/ns/net and the broker identify it by. */
  ino: number;
  /** Names: basenames of bind mounts under /run/netns, or other mount paths. */
  names: string[];
  /** True for the initial namespace (PID 1's). */
  host: boolean;
  /** A path that opens it: a bind mount, /proc/PID/ns/net or /proc/PID/fd/N. */
  openPath?: string;
  /** The processes in it. */
  processes: InspectProcess[];
}

/** Who holds a socket: a process and the descriptors it holds it by. */
export interface SocketHolder {
  /** Process id. */
  pid: number;
  /** Command name. */
  comm: string;
  /** Descriptor numbers. */
  fds: number[];
  /** Inode of the holder's network namespace. */
  netnsIno: number;
}

/** What a scan of /proc and the mount table finds. */
export interface HostScan {
  /** Namespaces by inode. */
  namespaces: Map<number, FoundNamespace>;
  /** Socket inode -> the processes holding it. */
  holders: Map<number, SocketHolder[]>;
  /** Inode of the initial namespace. */
  hostIno: number;
}

/** What {@link scanHost} reads besides mounts and each process's namespace. */
export interface ScanOptions {
  /** Collect which process holds which socket (reads every descriptor). Default true. */
  sockets?: boolean;
  /**
   * Read descriptors at all: namespaces kept alive only by a descriptor
   * (`net:[INO]` links) are found this way. Default true. The broker's
   * garbage collection turns it off: its own descriptors would keep every
   * namespace it knows alive.
   */
  descriptors?: boolean;
}

const NET_LINK = /^net:\[(\d+)\]$/;
const SOCKET_LINK = /^socket:\[(\d+)\]$/;

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Undo the octal escapes (\040 for a space) of /proc/self/mountinfo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** The display name of a mount point: NAME for /run/netns/NAME, else the path. */
function mountName(path: string): string {
  for (const dir of [NETNS_RUN_DIR, "/var/run/netns"]) {
    if (path.startsWith(dir + "/") && !path.slice(dir.length + 1).includes("/")) {
      return path.slice(dir.length + 1);
    }
  }
  return path;
}

/** The scan being built: namespaces by inode and socket holders. */
class Scan {
  readonly namespaces = new Map<number, FoundNamespace>();
  readonly holders = new Map<number, SocketHolder[]>();

  entry(ino: number): FoundNamespace {
    let ns = this.namespaces.get(ino);
    if (!ns) {
      ns = { ino, names: [], host: false, processes: [] };
      this.namespaces.set(ino, ns);
    }
    return ns;
  }

  addName(ino: number, path: string): void {
    const ns = this.entry(ino);
    const name = mountName(path);
    if (!ns.names.includes(name)) ns.names.push(name);
    // A bind mount is the steadiest way in.
    if (!ns.openPath || ns.openPath.startsWith("/proc/")) ns.openPath = path;
  }

  addHolder(sock: number, pid: number, comm: string, fd: number, netnsIno: number): void {
    const list = this.holders.get(sock) ?? [];
    const mine = list.find((h) => h.pid === pid);
    if (mine) mine.fds.push(fd);
    else list.push({ pid, comm, fds: [fd], netnsIno });
    this.holders.set(sock, list);
  }
}

/** Bind mounts of namespaces, wherever they are (`ip netns add` makes them under /run/netns). */
function scanMounts(scan: Scan): void {
  const mounts = readText("/proc/self/mountinfo") ?? "";
  for (const line of mounts.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (sep < 0 || f[sep + 1] !== "nsfs") continue;
    const m = NET_LINK.exec(f[3]);
    if (m) scan.addName(Number(m[1]), unescapeMount(f[4]));
  }
  // /run/netns itself, in case the mount table was not readable.
  try {
    const self = netnsIdOfPath("/proc/self/ns/net");
    for (const e of Deno.readDirSync(NETNS_RUN_DIR)) {
      const path = `${NETNS_RUN_DIR}/${e.name}`;
      const id = netnsIdOfPath(path);
      if (
        id && self && id.dev === self.dev && !scan.namespaces.get(id.ino)?.names.includes(e.name)
      ) {
        scan.addName(id.ino, path);
      }
    }
  } catch { /* no /run/netns: no named namespaces */ }
}

/** The descriptors of one process: sockets it holds, namespaces it keeps open. */
function scanDescriptors(
  scan: Scan,
  pid: number,
  comm: string,
  netnsIno: number,
  sockets: boolean,
) {
  let fds: Iterable<Deno.DirEntry>;
  try {
    fds = Deno.readDirSync(`/proc/${pid}/fd`);
  } catch {
    return;
  }
  try {
    for (const fd of fds) {
      let link: string;
      try {
        link = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`);
      } catch {
        continue;
      }
      const s = sockets ? SOCKET_LINK.exec(link) : null;
      if (s) {
        scan.addHolder(Number(s[1]), pid, comm, Number(fd.name), netnsIno);
        continue;
      }
      const n = NET_LINK.exec(link);
      if (n) scan.entry(Number(n[1])).openPath ??= `/proc/${pid}/fd/${fd.name}`;
    }
  } catch { /* the process exited while we read its descriptors */ }
}

/** Every process: its namespace, and (when asked) its descriptors. Returns PID 1's namespace. */
function scanProcesses(scan: Scan, opts: Required<ScanOptions>): number | undefined {
  let hostIno: number | undefined;
  for (const p of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(p.name)) continue;
    const pid = Number(p.name);
    const id = netnsIdOfPath(`/proc/${pid}/ns/net`);
    if (!id) continue; // gone, or a kernel thread without one
    // The name is the process's own choice: no escapes reach a terminal.
    const comm = printable((readText(`/proc/${pid}/comm`) ?? "?\n").replace(/\n$/, ""));
    const ns = scan.entry(id.ino);
    ns.processes.push({ pid, comm });
    ns.openPath ??= `/proc/${pid}/ns/net`;
    if (pid === 1) hostIno = id.ino;
    if (opts.descriptors) scanDescriptors(scan, pid, comm, id.ino, opts.sockets);
  }
  return hostIno;
}

/**
 * Find every network namespace: bind-mounted ones (`ip netns add`, from the
 * mount table and /run/netns), those of processes (/proc/PID/ns/net), and
 * those only a descriptor keeps alive (/proc/PID/fd links `net:[INO]`, as
 * the broker holds them). Collects which process holds which socket on the
 * way, unless `sockets` is false.
 */
export function scanHost(opts: ScanOptions = {}): HostScan {
  const o = { sockets: opts.sockets ?? true, descriptors: opts.descriptors ?? true };
  const scan = new Scan();
  scanMounts(scan);
  const hostIno = scanProcesses(scan, o) ?? netnsIdOfPath("/proc/1/ns/net")?.ino ??
    netnsIdOfPath("/proc/self/ns/net")?.ino;
  if (hostIno !== undefined) scan.entry(hostIno).host = true;
  return { namespaces: scan.namespaces, holders: scan.holders, hostIno: hostIno ?? 0 };
}

/**
 * The inodes of the namespaces something besides descriptors keeps alive: a
 * bind mount (such as /run/netns/NAME) or a process inside. What the
 * broker's garbage collection asks.
 */
export function liveNamespaces(): Set<number> {
  const scan = scanHost({ sockets: false, descriptors: false });
  const live = new Set<number>();
  for (const ns of scan.namespaces.values()) {
    if (ns.names.length || ns.processes.length) live.add(ns.ino);
  }
  return live;
}

/** The name a namespace is shown by: its name, "host", or "pid:PID" / "ns:INODE". */
export function displayName(ns: FoundNamespace): string {
  if (ns.host) return "host";
  if (ns.names.length) return ns.names[0];
  if (ns.processes.length) return `pid:${Math.min(...ns.processes.map((p) => p.pid))}`;
  return `ns:${ns.ino}`;
}
