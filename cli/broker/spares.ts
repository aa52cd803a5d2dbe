/**
 * Spare sockets, made ahead of the single grafts that take them.
 *
 * Unbound spares: a single graft into another namespace costs two namespace
 * switches (there and back) besides its socket(); after the turn that took
 * the last spare of its kind (namespace, family, type, protocol, owner), or
 * found none, one switch makes a few sockets of that kind, unbound and
 * without options. The next single grafts of that kind take one and only
 * set its options and bind it: one switch pair for several grafts. Such a
 * spare is exactly what socket() would return at that moment, as that
 * owner, in that namespace; nothing is applied to it until a request of its
 * kind passed every check.
 *
 * Every spare is made by {@link Spares.refill}, after the replies of a turn
 * went out, for the kinds {@link Spares.want}ed during it.
 *
 * Prepared spares: a client socket with port 0 (TCP or UDP, no options of
 * the application's) is the same socket for every request of its kind: the
 * endpoint's plan (its address, graft's own options) is part of the kind,
 * and its spares are made, configured and bound after a turn of the serve
 * loop (see {@link Spares.want}), so a request that finds one only sends
 * it. A prepared spare is bound to the address the request would get and
 * is handed out only after the request passed the same checks.
 *
 * Lent spares: the prepared spares of a kind can be handed to the broker's
 * wait ({@link SparePools}, native/fast.c), which answers a connection's
 * request with one when the broker granted that connection the same request
 * before (see Broker). They stay this thread's spares: taken, counted,
 * expired and dropped here like the others, and dropping them withdraws
 * every grant on them.
 *
 * Spares are kept briefly (they hold their namespace alive), oldest taken
 * first, a bounded number of kinds at once, and all dropped whenever
 * endpoints or namespaces change.
 *
 * @module
 */

/** Unbound spares made (after the turn, one switch) for a kind that has none left. */
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
/** Most prepared spares made at once for a lent kind: one batch (GRAFT_SOCKETS_MAX). */
export const PREPARED_REFILL_MAX = 32;
/**
 * A lent kind low again within this long of its last refill gets twice as
 * many as then (see {@link Spares.wantMore}).
 */
export const PREPARED_QUICK_MS = 100;

interface Shelf {
  fds: number[];
  /** When each was made (ms), in the order of fds. */
  at: number[];
}

/** Makes spares of a kind: their descriptors (none when it failed). */
export type SpareMaker = (count: number) => number[];

/** Pools that hold spares for the broker's wait (cli/sys/native.ts fast*). */
export interface SparePools {
  /** A new pool whose wait returns when `low` are left; undefined when none is free. */
  open(low: number): number | undefined;
  /** Add `fds` (oldest last): those it did not take are returned. */
  put(id: number, fds: number[]): number[];
  /** The oldest spare, now the caller's. */
  take(id: number): number | undefined;
  /** How many it holds. */
  left(id: number): number;
  /** Withdraw every grant on it, close its spares, free it. */
  drop(id: number): void;
}

/** A kind lent to a pool: when its spares were added, oldest first (the pool hands out the oldest). */
interface Lent {
  id: number;
  /** Batches added: when, and how many were added in all up to and including it. */
  batches: { at: number; upTo: number }[];
  added: number;
  /** Its last refill: how many were asked for, and when they were made (ms). */
  refill: number;
  refilledAt: number;
}

/** The spare sockets of one broker thread. */
export class Spares {
  readonly #shelves = new Map<string, Shelf>();
  /** Kinds to make spares of after this turn, and how many. */
  readonly #wanted = new Map<string, { make: SpareMaker; count: number }>();
  /** Kinds whose spares are in a pool. */
  readonly #lent = new Map<string, Lent>();
  /** When the oldest spare held was made (ms): nothing expires before it is TTL old. */
  #oldest = Infinity;

  /**
   * @param close how a spare is closed when it is not used
   * @param pools where {@link lend} puts a kind's spares; none: nothing is lent
   */
  constructor(readonly close: (fd: number) => void, readonly pools?: SparePools) {}

  /** The kind of a socket: where, what and whose it is. */
  static kind(target: string, family: number, type: number, protocol: number, owner: number) {
    return `${target}/${family}/${type}/${protocol}/${owner}`;
  }

  /** A spare of `kind`, now the caller's (the oldest); undefined when there is none. */
  take(kind: string): number | undefined {
    const shelf = this.#shelves.get(kind);
    if (!shelf) {
      const lent = this.#lent.get(kind);
      return lent && this.pools!.take(lent.id);
    }
    const fd = shelf.fds.shift();
    shelf.at.shift();
    if (shelf.fds.length === 0) this.#shelves.delete(kind);
    return fd;
  }

  /** How many spares of `kind` are held. */
  left(kind: string): number {
    const lent = this.#lent.get(kind);
    return (this.#shelves.get(kind)?.fds.length ?? 0) + (lent ? this.pools!.left(lent.id) : 0);
  }

  /**
   * Lend the spares of `kind`, those held and those made from now on, to a
   * pool: its number, or undefined when there are no pools or none is free.
   */
  lend(kind: string, now = Date.now()): number | undefined {
    const held = this.#lent.get(kind);
    if (held || !this.pools) return held?.id;
    const id = this.pools.open(PREPARED_LOW);
    if (id === undefined) return undefined;
    this.#lent.set(kind, { id, batches: [], added: 0, refill: 0, refilledAt: -Infinity });
    const shelf = this.#shelves.get(kind);
    if (shelf) {
      this.#shelves.delete(kind);
      this.put(kind, shelf.fds, shelf.at[0] ?? now);
    }
    return id;
  }

  /** Keep `fds`, just made, as spares of `kind` (after those held). */
  put(kind: string, fds: number[], now = Date.now()): void {
    if (fds.length === 0) return;
    const lent = this.#lent.get(kind);
    if (lent) {
      const rest = this.pools!.put(lent.id, fds);
      for (const fd of rest) this.close(fd);
      lent.added += fds.length - rest.length;
      lent.batches.push({ at: now, upTo: lent.added });
      this.#oldest = Math.min(this.#oldest, now);
      return;
    }
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

  /**
   * Have more prepared spares of `kind`, which is running low, made at the
   * next {@link refill}: {@link PREPARED_REFILL}; for a lent kind whose last
   * refill was made less than {@link PREPARED_QUICK_MS} before, twice as
   * many as that one, up to {@link PREPARED_REFILL_MAX}. A client grafting
   * socket after socket then costs the serve loop a turn every 32 grafts,
   * not every 8 (each such turn delays the request behind it), and at most
   * as many spares are made ahead as it took during the last refills, so
   * those that expire unused never outnumber those used.
   */
  wantMore(kind: string, make: SpareMaker, now = Date.now()): void {
    const lent = this.#lent.get(kind);
    const quick = lent && now - lent.refilledAt < PREPARED_QUICK_MS;
    const twice = quick ? Math.max(PREPARED_REFILL, 2 * lent.refill) : PREPARED_REFILL;
    const count = Math.min(PREPARED_REFILL_MAX, twice);
    this.want(kind, count, make);
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
      const lent = this.#lent.get(kind);
      if (lent) {
        lent.refill = w.count;
        lent.refilledAt = now;
      }
    }
  }

  /** Close the spares older than {@link SPARE_TTL_MS}. */
  expire(now = Date.now()): void {
    if (now - this.#oldest <= SPARE_TTL_MS) return; // every turn: nothing due, nothing done
    this.#oldest = Infinity;
    for (const [kind, lent] of this.#lent) {
      // The pool hands out its oldest first: those taken are the first added.
      const taken = lent.added - this.pools!.left(lent.id);
      while (lent.batches.length && lent.batches[0].upTo <= taken) lent.batches.shift();
      if (lent.batches.length === 0) continue;
      if (now - lent.batches[0].at > SPARE_TTL_MS) this.#drop(kind);
      else this.#oldest = Math.min(this.#oldest, lent.batches[0].at);
    }
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
    for (const kind of [...this.#shelves.keys(), ...this.#lent.keys()]) this.#drop(kind);
  }

  /** How many spares are held. */
  get count(): number {
    let n = 0;
    for (const shelf of this.#shelves.values()) n += shelf.fds.length;
    for (const lent of this.#lent.values()) n += this.pools!.left(lent.id);
    return n;
  }

  #drop(kind: string): void {
    const lent = this.#lent.get(kind);
    if (lent) {
      this.#lent.delete(kind);
      this.pools!.drop(lent.id); // its grants first, then its spares
    }
    const shelf = this.#shelves.get(kind);
    if (!shelf) return;
    this.#shelves.delete(kind);
    for (const fd of shelf.fds) this.close(fd);
  }
}
