/**
 * Spare sockets. A single graft into another namespace costs two namespace
 * switches (there and back) besides its socket(); while the thread is
 * there, it makes a few more sockets of the same kind (namespace, family,
 * type, protocol, owner), unbound and without options, and keeps them here.
 * The next single grafts of that kind take one and only set its options and
 * bind it: one switch pair for several grafts.
 *
 * A spare is exactly what socket() would return at that moment, as that
 * owner, in that namespace; nothing is applied to it until a request of its
 * kind passed every check. Spares are kept briefly (they hold their
 * namespace alive) and a bounded number of kinds at once.
 *
 * @module
 */

/** Spares made along with a single graft that found none of its kind. */
export const SPARES_PER_SWITCH = 7;
/** Spares not taken within this long are closed. */
export const SPARE_TTL_MS = 1000;
/** Most kinds held at once (the oldest go first). */
const KINDS_MAX = 64;

interface Shelf {
  fds: number[];
  /** When they were made (ms). */
  at: number;
}

/** The spare sockets of one broker thread. */
export class Spares {
  readonly #shelves = new Map<string, Shelf>();

  /** @param close how a spare is closed when it is not used */
  constructor(readonly close: (fd: number) => void) {}

  /** The kind of a socket: where, what and whose it is. */
  static kind(target: string, family: number, type: number, protocol: number, owner: number) {
    return `${target}/${family}/${type}/${protocol}/${owner}`;
  }

  /** A spare of `kind`, now the caller's; undefined when there is none. */
  take(kind: string): number | undefined {
    const shelf = this.#shelves.get(kind);
    if (!shelf) return undefined;
    const fd = shelf.fds.pop();
    if (shelf.fds.length === 0) this.#shelves.delete(kind);
    return fd;
  }

  /** Keep `fds`, just made, as spares of `kind`. */
  put(kind: string, fds: number[], now = Date.now()): void {
    if (fds.length === 0) return;
    this.#drop(kind); // none are left when spares are made
    if (this.#shelves.size >= KINDS_MAX) this.#drop(this.#shelves.keys().next().value!);
    this.#shelves.set(kind, { fds, at: now });
  }

  /** Close the spares older than {@link SPARE_TTL_MS}. */
  expire(now = Date.now()): void {
    for (const [kind, shelf] of this.#shelves) {
      if (now - shelf.at > SPARE_TTL_MS) this.#drop(kind);
    }
  }

  /** Close every spare (namespaces were forgotten, endpoints deleted, the broker stops). */
  clear(): void {
    for (const kind of [...this.#shelves.keys()]) this.#drop(kind);
  }

  /** How many spares are held. */
  get count(): number {
    let n = 0;
    for (const shelf of this.#shelves.values()) n += shelf.fds.length;
    return n;
  }

  #drop(kind: string): void {
    const shelf = this.#shelves.get(kind);
    if (!shelf) return;
    this.#shelves.delete(kind);
    for (const fd of shelf.fds) this.close(fd);
  }
}
