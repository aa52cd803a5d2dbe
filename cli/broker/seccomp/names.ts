/**
 * What a grafted socket's addresses look like to the program, in seccomp
 * mode, as libgraft shows them (preload/hook_foreign.c):
 *
 * - getsockname() on a socket grafted by bind(), and on the connections it
 *   accepts, shows the program's view: the address and port it bound (a port
 *   it left to the system is the host's; a connection accepted on a wildcard
 *   shows the host's local address with the program's port). With
 *   `--names host` (listener metadata) it shows the host socket's own name,
 *   except on a Unix endpoint, which has no INET name to show.
 * - A socket on a Unix endpoint is "foreign": accept() and getpeername()
 *   show the unspecified address of the program's family (0.0.0.0:0 or
 *   [::]:0) instead of the AF_UNIX peer the program cannot parse.
 *
 * The supervisor remembers each socket it grafted by bind() under the host
 * socket's netns cookie and local name, which the connections it accepts
 * share; a trapped call on a socket without an entry continues untouched.
 *
 * @module
 */

import { C } from "../../sys/ffi.ts";
import { socketNetnsCookie } from "../../sys/peer.ts";
import { type Notification, sockName } from "../../sys/seccomp.ts";
import { getIntOpt } from "../../sys/unix.ts";
import { type Answer, CONTINUE, storeName } from "./answer.ts";
import { isWildcard, parseInet } from "./match.ts";

/** What the program bound, for one socket grafted by bind(). */
export interface NameView {
  /** The program's socket family (AF_INET or AF_INET6). */
  family: number;
  /** The socket address the program passed to bind(). */
  local: Uint8Array;
  /** Grafted onto a Unix endpoint. */
  unix: boolean;
}

/** Entries kept per listener: the oldest go first. */
const BOOK_MAX = 4096;

/** The sockets one listener's programs grafted by bind(), by host name. */
export class NameBook {
  readonly #views = new Map<string, NameView>();

  /** Remember what the program bound for `host`, the host socket now bound. */
  remember(host: number, view: NameView): void {
    const key = keyOf(host);
    if (key === undefined) return;
    this.#views.delete(key);
    if (this.#views.size >= BOOK_MAX) this.#views.delete(this.#views.keys().next().value!);
    this.#views.set(key, view);
  }

  /** The view for `sock` (a copy of the program's descriptor), if it was grafted by bind(). */
  lookup(sock: number): NameView | undefined {
    const key = keyOf(sock);
    return key === undefined ? undefined : this.#views.get(key);
  }
}

function keyOf(sock: number): string | undefined {
  const name = sockName(sock);
  if (!name || name.length < 2) return undefined;
  const hex = Array.from(name, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${socketNetnsCookie(sock)}/${hex}`;
}

/** A listener as the name calls need it. */
export interface NamedListener {
  /** The seccomp listener. */
  fd: number;
  /** What its programs grafted. */
  names: NameBook;
  /** `--names host`: getsockname() shows the host socket's name. */
  namesHost: boolean;
}

function portOf(sa: Uint8Array): number {
  return new DataView(sa.buffer, sa.byteOffset, sa.length).getUint16(2, false);
}

/** The program's view of `sock`'s local name (`sock` is grafted or accepted from one). */
export function programName(view: NameView, sock: number): Uint8Array {
  if (view.unix) return view.local;
  const truth = sockName(sock) ?? new Uint8Array(0);
  const accepted = getIntOpt(sock, C.SOL_SOCKET, C.SO_TYPE) === C.SOCK_STREAM &&
    getIntOpt(sock, C.SOL_SOCKET, C.SO_ACCEPTCONN) === 0;
  const local = parseInet(view.local);
  const out = accepted && local && isWildcard(local) && truth.length >= 16
    ? truth.slice()
    : view.local.slice();
  const port = portOf(view.local) || (truth.length >= 4 ? portOf(truth) : 0);
  new DataView(out.buffer).setUint16(2, port, false);
  return out;
}

/** The unspecified address of `family` (what a peer on a Unix endpoint looks like). */
export function unspecified(family: number): Uint8Array {
  const out = new Uint8Array(family === C.AF_INET6 ? 28 : 16);
  new DataView(out.buffer).setUint16(0, family, true);
  return out;
}

/** getsockname(fd, addr, len) on `sock`, a copy of the program's descriptor. */
export function answerSockName(l: NamedListener, n: Notification, sock: number): Answer {
  const view = l.names.lookup(sock);
  if (!view || (l.namesHost && !view.unix)) return CONTINUE;
  return storeName(l.fd, n, n.args[1], n.args[2], programName(view, sock), { val: 0 });
}

/** getpeername(fd, addr, len): a peer on a Unix endpoint shows as unspecified. */
export function answerPeerName(l: NamedListener, n: Notification, sock: number): Answer {
  const view = l.names.lookup(sock);
  // No peer: the kernel's ENOTCONN is the answer.
  if (!view?.unix || !sockName(sock, true)) return CONTINUE;
  return storeName(l.fd, n, n.args[1], n.args[2], unspecified(view.family), { val: 0 });
}
