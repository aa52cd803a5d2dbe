/**
 * accept() on a socket grafted onto a Unix endpoint, in seccomp mode. The
 * kernel would hand the program an AF_UNIX peer address its INET code cannot
 * parse, so the supervisor accepts in its place: it takes the connection from
 * its copy of the listening socket, stores the unspecified address of the
 * program's family as the peer (as libgraft does), and installs the
 * connection in the program with SECCOMP_ADDFD_FLAG_SEND, which answers the
 * call with the new descriptor number (descriptor and answer arrive together
 * or not at all).
 *
 * The program's blocking semantics are kept: on a non-blocking socket an
 * empty queue answers EAGAIN at once; a blocking accept() waits, parked: the
 * broker polls its copy and accepts when a connection is queued, while the
 * program's thread waits in the call. The accept itself then runs on another
 * thread, so the broker never blocks in it even if something outside the
 * supervisor (another process holding the socket) takes the connection
 * first. A parked call whose caller went away (a signal, exit) is dropped at
 * the next tick; a restarted call arrives as a new notification.
 *
 * @module
 */

import { C, closeFd } from "../../sys/ffi.ts";
import { getIntOpt, pollNow } from "../../sys/unix.ts";
import {
  acceptLater,
  acceptNow,
  isNonblocking,
  notifAddFd,
  type Notification,
  notifIdValid,
  notifRespond,
  shutdownSocket,
} from "../../sys/seccomp.ts";
import { type Answer, CONTINUE, storeName } from "./answer.ts";
import { type NamedListener, unspecified } from "./names.ts";

/** A blocking accept() waiting for a connection. */
interface Parked {
  l: NamedListener;
  n: Notification;
  /** Our copy of the program's listening socket (owned). */
  sock: number;
  /** The accept4() flags the program asked for. */
  flags: number;
  /** The program's family, for the peer address. */
  family: number;
  /** The listening socket, as /proc names it (one accept at a time per socket). */
  inode: string;
}

/** What the acceptor reports. */
export interface AcceptStats {
  /** Connections installed in a program. */
  grafted: number;
  /** Calls whose caller went away. */
  gone: number;
}

/** Serves accept() and accept4() on sockets grafted onto Unix endpoints. */
export class Acceptor {
  readonly #parked = new Map<number, Parked>();
  /** Inode -> our copy, for sockets with an accept running on another thread. */
  readonly #busy = new Map<string, number>();

  /** An acceptor counting into `stats`. */
  constructor(readonly stats: AcceptStats) {}

  /**
   * Answer accept(fd, addr, len) / accept4(fd, addr, len, flags) on `sock`
   * (a copy of the program's descriptor, of a socket on a Unix endpoint of
   * the program's `family`). "later": the acceptor took `sock` and answers
   * itself; anything else: the caller still owns `sock`.
   */
  accept(l: NamedListener, n: Notification, sock: number, family: number): Answer {
    if (getListening(sock) === false) return CONTINUE; // the kernel says EINVAL
    const flags = Number(n.args[3] & BigInt(C.SOCK_NONBLOCK | C.SOCK_CLOEXEC));
    const p: Parked = { l, n, sock, flags: n.nr === 43 ? 0 : flags, family, inode: inodeOf(sock) };
    if (isNonblocking(sock)) {
      const conn = acceptNow(sock, p.flags & C.SOCK_NONBLOCK);
      if (typeof conn !== "number") return { error: conn.errno };
      this.#deliver(p, conn);
      closeFd(sock);
      return "later";
    }
    this.#parked.set(sock, p);
    return "later";
  }

  /** Parked sockets to poll (not those with an accept running). */
  fds(): number[] {
    return [...this.#parked.values()].filter((p) => !this.#busy.has(p.inode)).map((p) => p.sock);
  }

  /** A parked socket is ready; false when `fd` is not one. */
  handle(fd: number): boolean {
    const p = this.#parked.get(fd);
    if (!p) return false;
    if (this.#busy.has(p.inode) || pollNow([fd], 0).length === 0) return true;
    this.#parked.delete(fd);
    if (!notifIdValid(p.l.fd, p.n.id)) return this.#drop(p), true;
    this.#busy.set(p.inode, p.sock);
    acceptLater(p.sock, p.flags & C.SOCK_NONBLOCK).then((conn) => {
      this.#busy.delete(p.inode);
      if (conn < 0) this.#parked.set(p.sock, p); // taken by someone else: wait again
      else {
        this.#deliver(p, conn);
        closeFd(p.sock);
      }
    });
    return true;
  }

  /** An accept runs on another thread: its result comes through the event loop. */
  pending(): boolean {
    return this.#busy.size > 0;
  }

  /** Drop parked calls whose caller went away. */
  tick(): void {
    for (const p of [...this.#parked.values()]) {
      if (!notifIdValid(p.l.fd, p.n.id)) this.#drop(p);
    }
  }

  /** Give up everything (the broker stops): parked calls fail, running accepts end. */
  close(): void {
    for (const p of [...this.#parked.values()]) this.#drop(p);
    for (const sock of this.#busy.values()) shutdownSocket(sock);
  }

  #drop(p: Parked): void {
    this.#parked.delete(p.sock);
    closeFd(p.sock);
    this.stats.gone++;
  }

  /** Hand connection `conn` (ours, closed here) to the parked call `p`. */
  #deliver(p: Parked, conn: number): void {
    try {
      const a = storeName(p.l.fd, p.n, p.n.args[1], p.n.args[2], unspecified(p.family), CONTINUE);
      if (a === "gone") {
        this.stats.gone++;
        return;
      }
      if (typeof a === "object" && "error" in a) {
        notifRespond(p.l.fd, p.n.id, a);
        return;
      }
      notifAddFd(p.l.fd, p.n.id, conn, -1, (p.flags & C.SOCK_CLOEXEC) !== 0);
      this.stats.grafted++;
    } catch {
      this.stats.gone++; // ADDFD failed: the caller is gone (its connection closes with ours)
    } finally {
      closeFd(conn);
    }
  }
}

/** Whether `sock` is listening (SO_ACCEPTCONN); undefined when it cannot be told. */
function getListening(sock: number): boolean | undefined {
  try {
    return getIntOpt(sock, C.SOL_SOCKET, C.SO_ACCEPTCONN) === 1;
  } catch {
    return undefined;
  }
}

/** The socket's identity as /proc shows it ("socket:[INODE]"). */
export function inodeOf(sock: number): string {
  try {
    return Deno.readLinkSync(`/proc/self/fd/${sock}`);
  } catch {
    return "";
  }
}
