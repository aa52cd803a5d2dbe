/**
 * Network namespaces: resolving a user's NETNS argument (a name under
 * /run/netns, a PID, or a path), identifying a namespace, and running code
 * inside one with a guaranteed restore.
 *
 * `setns(CLONE_NEWNET)` moves only the calling thread. Every function here
 * runs synchronously on the JavaScript thread, so the thread that switched is
 * the thread that creates the socket and the thread that switches back.
 *
 * @module
 */

import { C, check, closeFd, libc, openFd, SysError } from "./ffi.ts";
import { GraftError } from "../model/errors.ts";

/** Where `ip netns add` keeps named namespaces. */
export const NETNS_RUN_DIR = "/run/netns";

/** Turn a NETNS argument (name, PID or path) into the path of a namespace file. */
export function netnsPath(spec: string): string {
  if (spec === "") throw new GraftError("empty network namespace name", 2);
  if (/^\d+$/.test(spec)) return `/proc/${spec}/ns/net`;
  if (spec.includes("/")) return spec;
  return `${NETNS_RUN_DIR}/${spec}`;
}

/** Identity of a namespace: device and inode of its nsfs file. */
export interface NetnsId {
  /** Device number of the nsfs mount. */
  dev: number;
  /** Inode number: what `ip netns identify` and /proc/PID/ns/net show. */
  ino: number;
}

/** A namespace's identity as one string key, `dev:ino`. */
export function netnsKey(id: NetnsId): string {
  return `${id.dev}:${id.ino}`;
}

/** The identity of the namespace a path refers to, or undefined if it is gone. */
export function netnsIdOfPath(path: string): NetnsId | undefined {
  try {
    const st = Deno.statSync(path);
    if (st.ino === null || st.dev === null) return undefined;
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/** The identity of the namespace an open descriptor refers to. */
export function netnsIdOfFd(fd: number): NetnsId {
  const id = netnsIdOfPath(`/proc/self/fd/${fd}`);
  if (!id) throw new GraftError(`descriptor ${fd} is not a namespace`, 1);
  return id;
}

/**
 * Open the namespace named by a NETNS argument. The caller owns the returned
 * descriptor. Unknown namespaces give a one-line GraftError.
 */
export function openNetns(spec: string): number {
  const path = netnsPath(spec);
  let fd: number;
  try {
    fd = openFd(path);
  } catch (e) {
    if (e instanceof SysError && (e.code === "ENOENT" || e.code === "ESRCH")) {
      const hint = /^\d+$/.test(spec) ? `no process ${spec}` : `${path} does not exist`;
      throw new GraftError(`network namespace "${spec}" not found (${hint})`, 1);
    }
    throw new GraftError(`cannot open network namespace "${spec}": ${(e as Error).message}`, 1);
  }
  const id = netnsIdOfPath(`/proc/self/fd/${fd}`);
  const self = netnsIdOfPath(`/proc/self/ns/net`);
  // A namespace file lives on nsfs; make sure the path is one (same device as ours).
  if (!id || !self || id.dev !== self.dev) {
    closeFd(fd);
    throw new GraftError(`"${spec}" is not a network namespace (${path})`, 1);
  }
  return fd;
}

/**
 * Move the calling thread into the namespace `fd` and return a function that
 * moves it back. Call the restore function in a `finally`.
 */
export function enterNetns(fd: number): () => void {
  const saved = openFd("/proc/thread-self/ns/net");
  try {
    check("setns", libc().setns(fd, C.CLONE_NEWNET), "entering network namespace");
  } catch (e) {
    closeFd(saved);
    throw e;
  }
  return () => {
    try {
      check("setns", libc().setns(saved, C.CLONE_NEWNET), "restoring network namespace");
    } finally {
      closeFd(saved);
    }
  };
}

/** Run `fn` with the calling thread inside namespace `fd`; always restores. */
export function withNetns<T>(fd: number | undefined, fn: () => T): T {
  if (fd === undefined) return fn();
  const restore = enterNetns(fd);
  try {
    return fn();
  } finally {
    restore();
  }
}

/** The namespace of the given process, or undefined when it is gone. */
export function netnsIdOfPid(pid: number): NetnsId | undefined {
  return netnsIdOfPath(`/proc/${pid}/ns/net`);
}

/**
 * When a process started (field 22 of /proc/PID/stat, in clock ticks since
 * boot), or undefined when it is gone. A PID with the same start time (in
 * the same boot) is the same process.
 */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** This boot's identity (/proc/sys/kernel/random/boot_id). */
export function bootId(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  } catch {
    return "";
  }
}
