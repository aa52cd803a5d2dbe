import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SPARE_TTL_MS, Spares } from "./spares.ts";

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
