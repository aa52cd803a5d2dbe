/**
 * Unix endpoint paths, walked the way a root process must walk a path other
 * users may have touched: one component at a time, relative to the directory
 * already opened, never following a symlink someone else could have planted,
 * never passing through a directory someone else could swap. The last
 * directory may be anyone's (a container's shared directory): what happens
 * inside it is done relative to the descriptor, so a swapped name there can
 * only point the broker at the owner's own files.
 *
 * @module
 */

import { C, check, closeFd, Errno, errno, libc, SysError } from "./ffi.ts";
import { sockaddrUn } from "./sockaddr.ts";

const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const MAX_LINKS = 40;

/** The opened directory a Unix socket path lives in, and the socket's name there. */
export interface UnixParent {
  /** O_PATH descriptor of the directory; the caller closes it. */
  dirFd: number;
  /** The last component of the path. */
  name: string;
}

function openDir(path: string): number {
  return check(
    "open",
    libc().open(
      new TextEncoder().encode(path + "\0"),
      O_PATH | O_DIRECTORY | O_NOFOLLOW | C.O_CLOEXEC,
      0,
    ),
    path,
  );
}

/** Only root may change an entry of `dir`: root owns it and nobody else may write, or it is sticky and root owns the entry. */
function onlyRootChanges(dir: Deno.FileInfo, entry: Deno.FileInfo): boolean {
  if (dir.uid !== 0) return false;
  const mode = dir.mode ?? 0o777;
  if ((mode & 0o022) === 0) return true;
  return (mode & 0o1000) !== 0 && entry.uid === 0;
}

/**
 * Open the directory of the absolute path `path`, following only symlinks
 * and directories that nobody but root can change. Throws SysError EPERM
 * naming the first component another user could redirect, ENOENT/ENOTDIR for
 * a path that does not lead to a directory.
 */
export function openTrustedParent(path: string): UnixParent {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  const name = parts.pop();
  if (!path.startsWith("/") || !name || name === "..") {
    throw new SysError("open", Errno.EINVAL, `${path} is not an absolute socket path`);
  }
  let cur = openDir("/");
  let curInfo = Deno.statSync("/");
  let shown = "";
  let links = 0;
  try {
    while (parts.length) {
      const c = parts.shift()!;
      const here = `/proc/self/fd/${cur}/${c}`;
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(here);
      } catch {
        throw new SysError("open", Errno.ENOENT, `${shown}/${c} does not exist`);
      }
      if (c !== ".." && !onlyRootChanges(curInfo, info)) {
        throw new SysError(
          "open",
          Errno.EPERM,
          `${shown}/${c} is in a directory uid ${curInfo.uid} (not only root) can change`,
        );
      }
      if (info.isSymlink) {
        if (++links > MAX_LINKS) throw new SysError("open", Errno.ELOOP, path);
        const target = Deno.readLinkSync(here);
        parts.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
        if (target.startsWith("/")) {
          closeFd(cur);
          cur = openDir("/");
          curInfo = Deno.statSync("/");
          shown = "";
        }
        continue;
      }
      if (!info.isDirectory) throw new SysError("open", Errno.ENOTDIR, `${shown}/${c}`);
      const next = openDir(here);
      const opened = Deno.statSync(`/proc/self/fd/${next}`);
      if (opened.ino !== info.ino || opened.dev !== info.dev) {
        closeFd(next);
        throw new SysError("open", Errno.EAGAIN, `${shown}/${c} changed while being opened`);
      }
      closeFd(cur);
      [cur, curInfo, shown] = [next, opened, `${shown}/${c}`];
    }
    return { dirFd: cur, name };
  } catch (e) {
    closeFd(cur);
    throw e;
  }
}

/**
 * Remove `name` in the directory `dirFd` when it is a Unix socket nobody
 * listens on any more (so a restarted server can bind). The probe does not
 * block: a listener whose backlog is full counts as alive.
 */
export function removeStaleSocket(dirFd: number, name: string): void {
  const at = `/proc/self/fd/${dirFd}/${name}`;
  try {
    if (!Deno.lstatSync(at).isSocket) return;
  } catch {
    return;
  }
  const fd = libc().socket(C.AF_UNIX, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  try {
    const sa = sockaddrUn(at);
    if (libc().connect(fd, sa, sa.length) < 0 && errno() === Errno.ECONNREFUSED) {
      Deno.removeSync(at); // unlink of the name in that directory; a symlink is removed, not followed
    }
  } catch {
    /* leave it */
  } finally {
    closeFd(fd);
  }
}
