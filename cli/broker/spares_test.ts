import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { existsSync } from "node:fs";
import { closeFd, openFd } from "../sys/ffi.ts";
import { FAST_POOLS } from "../sys/native.ts";
import {
  PREPARED_FIRST,
  PREPARED_LOW,
  PREPARED_QUICK_MS,
  PREPARED_REFILL,
  PREPARED_REFILL_MAX,
  SPARE_TTL_MS,
  Spares,
} from "./spares.ts";

Deno.test("Spares: taken one by one, only by their own kind", () => {
  const closed: number[] = [];
  const s = new Spares((fd) => closed.push(fd));
  const k = Spares.kind("ns1", 2, 1, 0, 1000);
  s.put(k, [10, 11], 0);
  assertEquals(s.take(Spares.kind("ns1", 2, 1, 0, 1001)), undefined, "another owner's");
  assertEquals(s.take(Spares.kind("ns2", 2, 1, 0, 1000)), undefined, "another namespace's");
  assertEquals([s.left(k), s.take(k), s.take(k), s.take(k)], [2, 10, 11, undefined]);
  assertEquals(closed, []);
});

Deno.test("Spares: closed when old, when cleared, and past the kinds they may hold", () => {
  const closed: number[] = [];
  const s = new Spares((fd) => closed.push(fd));
  s.put("a", [1, 2], 0);
  s.put("b", [3], SPARE_TTL_MS);
  s.put("b", [4], 0); // added later, made earlier: each spare has its own age
  s.expire(SPARE_TTL_MS + 1);
  assertEquals([closed, s.count, s.left("b")], [[1, 2, 4], 1, 1]);
  s.clear();
  assertEquals([closed, s.count], [[1, 2, 4, 3], 0]);
  closed.length = 0;
  for (let i = 0; i < 65; i++) s.put(`k${i}`, [100 + i], 0);
  assertEquals([closed.at(-1), s.count], [100, 64]); // the oldest kind went
  s.clear();
});

Deno.test("Spares: wanted ones are made at the refill, after those held; none once cleared", () => {
  const closed: number[] = [];
  const s = new Spares((fd) => closed.push(fd));
  const asked: number[] = [];
  let next = 20;
  const make = (n: number) => {
    asked.push(n);
    return Array.from({ length: n }, () => next++);
  };
  s.put("k", [7], 0);
  s.want("k", 2, make);
  s.want("k", 8, make); // the larger of two wishes in one turn
  s.want("k", 1, make);
  assertEquals([s.wanted, s.left("k")], [true, 1]);
  s.refill(0);
  assertEquals([asked, s.wanted, s.left("k"), s.take("k"), s.take("k")], [[8], false, 9, 7, 20]);
  s.want("k", 2, make);
  s.clear(); // endpoints changed: nothing made for the old ones
  s.refill(0);
  assertEquals([asked, s.count, closed.length], [[8], 0, 7]);
  s.want("j", 2, () => []); // a maker that failed: nothing held
  s.refill(0);
  assertEquals(s.count, 0);
});

Deno.test("Spares: lent to the wait's pools: taken from there, aged and dropped with them", () => {
  const open = (n: number) => Array.from({ length: n }, () => openFd("/dev/null"));
  const isOpen = (fd: number) => existsSync(`/proc/self/fd/${fd}`);
  const s = new Spares(closeFd, FAST_POOLS);
  const fds = open(4);
  s.put("k", [fds[0]], 0);
  const id = s.lend("k", 0);
  assertEquals(
    [id !== undefined, s.lend("k"), s.left("k")],
    [true, id, 1],
    "its shelf moves along",
  );
  s.put("k", [fds[1], fds[2]], 500);
  assertEquals([FAST_POOLS.left(id!), s.count, s.take("k"), s.left("k")], [3, 3, fds[0], 2]);
  closeFd(fds[0]);
  s.expire(SPARE_TTL_MS + 1); // the one made at 0 was taken: those made at 500 stay
  assertEquals([s.left("k"), isOpen(fds[1])], [2, true]);
  s.expire(500 + SPARE_TTL_MS + 1);
  assertEquals([s.left("k"), isOpen(fds[1]), isOpen(fds[2])], [0, false, false]);
  s.put("k", [fds[3]], 0); // no longer lent: on the shelf
  assertEquals([FAST_POOLS.left(id!), s.left("k")], [0, 1]);
  const again = s.lend("k", 0);
  assertEquals([again !== undefined, s.left("k")], [true, 1]);
  s.clear();
  assertEquals([s.count, isOpen(fds[3]), FAST_POOLS.left(again!)], [0, false, 0]);
});

Deno.test("Spares: a lent kind low again soon after its refill gets twice as many, up to a batch", () => {
  const open = (n: number) => Array.from({ length: n }, () => openFd("/dev/null"));
  const s = new Spares(closeFd, FAST_POOLS);
  const asked: number[] = [];
  const make = (n: number) => {
    asked.push(n);
    return open(n);
  };
  const drain = () => {
    while (s.left("k") > PREPARED_LOW) closeFd(s.take("k")!);
  };
  s.lend("k", 0);
  s.want("k", PREPARED_FIRST, make); // as the broker does for a kind's first graft
  s.refill(0);
  let t = 0;
  for (let i = 0; i < 4; i++) { // used up within PREPARED_QUICK_MS each time
    drain();
    t += PREPARED_QUICK_MS - 1;
    s.wantMore("k", make, t);
    s.wantMore("k", make, t); // asked twice in one turn: still one doubling
    s.refill(t);
  }
  drain();
  t += PREPARED_QUICK_MS; // a pause: back to the plain refill
  s.wantMore("k", make, t);
  s.refill(t);
  assertEquals(asked, [
    PREPARED_FIRST,
    PREPARED_REFILL,
    2 * PREPARED_REFILL,
    PREPARED_REFILL_MAX,
    PREPARED_REFILL_MAX, // no more than a batch
    PREPARED_REFILL,
  ]);
  s.clear();
  assertEquals(s.count, 0);
});
