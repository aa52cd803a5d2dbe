/**
 * Spare sockets, made ahead of the single grafts that take them.
 *
 * Unbound spares: a single graft into another namespace costs two namespace
 * switches (there and back) besides its socket(); while the thread is
 * there, it makes a few more sockets of the same kind (namespace, family,
 * type, protocol, owner), unbound and without options. The next single
 * grafts of that kind take one and only set its options and bind it: one
 * switch pair for several grafts. Such a spare is exactly what socket()
 * would return at that moment, as that owner, in that namespace; nothing is
 * applied to it until a request of its kind passed every check.
 *
 * Prepared spares: a client socket with port 0 (TCP or UDP, no options of
 * the application's) is the same socket for every request of its kind: the
 * endpoint's plan (its address, graft's own options) is part of the kind,
 * and its spares are made, configured and bound after a turn of the serve
 * loop (see {@link Spares.want}), so a request that finds one only sends
 * it. A prepared spare is bound to the address the request would get and
 * is handed out only after the request passed the same checks.
 *
 * Spares are kept briefly (they hold their namespace alive), oldest taken
 * first, a bounded number of kinds at once, and all dropped whenever
 * endpoints or namespaces change.
 *
 * @module
 */

/** Spares made along with a single graft that found none of its kind. */
export const SPARES_PER_SWITCH = 7;
/** Spares not taken within this long are closed. */
export const SPARE_TTL_MS = 1000;
/** Most kinds held at once (the oldest go first). */
const KINDS_MAX = 64;
/** Prepared spares made for a kind that had none (a graft that may stay the only one). */
export const PREPARED_FIRST = 2;
/** Prepared spares made when a kind in use is down to {@link PREPARED_LOW}. */
export const PREPARED_REFILL = 8;
/** A kind with this many prepared spares left or fewer is refilled. */
export const PREPARED_LOW = 2;

interface Shelf {
  fds: number[];
  /** When each was made (ms), in the order of fds. */
  at: number[];
}

/** Makes spares of a kind: their descriptors (none when it failed). */
export type SpareMaker = (count: number) => number[];

/** The spare sockets of one broker thread. */
export class Spares {
  readonly #shelves = new Map<string, Shelf>();
  /** Kinds to make spares of after this turn, and how many. */
  readonly #wanted = new Map<string, { make: SpareMaker; count: number }>();
  /** When the oldest spare held was made (ms): nothing expires before it is TTL old. */
  #oldest = Infinity;

  /** @param close how a spare is closed when it is not used */
  constructor(readonly close: (fd: number) => void) {}

  /** The kind of a socket: where, what and whose it is. */
  static kind(target: string, family: number, type: number, protocol: number, owner: number) {
    return `${target}/${family}/${type}/${protocol}/${owner}`;
  }

  /** A spare of `kind`, now the caller's (the oldest); undefined when there is none. */
  take(kind: string): number | undefined {
    const shelf = this.#shelves.get(kind);
    if (!shelf) return undefined;
    const fd = shelf.fds.shift();
    shelf.at.shift();
    if (shelf.fds.length === 0) this.#shelves.delete(kind);
    return fd;
  }

  /** How many spares of `kind` are held. */
  left(kind: string): number {
    return this.#shelves.get(kind)?.fds.length ?? 0;
  }

  /** Keep `fds`, just made, as spares of `kind` (after those held). */
  put(kind: string, fds: number[], now = Date.now()): void {
    if (fds.length === 0) return;
    let shelf = this.#shelves.get(kind);
    if (!shelf) {
      if (this.#shelves.size >= KINDS_MAX) this.#drop(this.#shelves.keys().next().value!);
      this.#shelves.set(kind, shelf = { fds: [], at: [] });
    }
    for (const fd of fds) {
      shelf.fds.push(fd);
      shelf.at.push(now);
    }
    this.#oldest = Math.min(this.#oldest, now);
  }

  /** Have `count` spares of `kind` made by `make` at the next {@link refill}. */
  want(kind: string, count: number, make: SpareMaker): void {
    const w = this.#wanted.get(kind);
    if (!w || w.count < count) this.#wanted.set(kind, { make, count });
  }

  /** Whether spares are wanted (a refill is due). */
  get wanted(): boolean {
    return this.#wanted.size > 0;
  }

  /** Make the spares wanted (after the replies of a turn went out). */
  refill(now = Date.now()): void {
    for (const [kind, w] of this.#wanted) {
      this.#wanted.delete(kind);
      this.put(kind, w.make(w.count), now);
    }
  }

  /** Close the spares older than {@link SPARE_TTL_MS}. */
  expire(now = Date.now()): void {
    if (now - this.#oldest <= SPARE_TTL_MS) return; // every turn: nothing due, nothing done
    this.#oldest = Infinity;
    for (const [kind, shelf] of this.#shelves) {
      if (shelf.at.every((t) => now - t <= SPARE_TTL_MS)) continue;
      const keep: Shelf = { fds: [], at: [] };
      for (let i = 0; i < shelf.fds.length; i++) {
        if (now - shelf.at[i] > SPARE_TTL_MS) {
          this.close(shelf.fds[i]);
        } else {
          keep.fds.push(shelf.fds[i]);
          keep.at.push(shelf.at[i]);
        }
      }
      if (keep.fds.length) this.#shelves.set(kind, keep);
      else this.#shelves.delete(kind);
    }
    for (const shelf of this.#shelves.values()) {
      for (const t of shelf.at) this.#oldest = Math.min(this.#oldest, t);
    }
  }

  /** Close every spare, and make none of those wanted (endpoints or namespaces changed, the broker stops). */
  clear(): void {
    this.#wanted.clear();
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
