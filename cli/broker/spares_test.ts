import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SPARE_TTL_MS, Spares } from "./spares.ts";

Deno.test("Spares: taken one by one, only by their own kind", () => {
  const closed: number[] = [];
  const s = new Spares((fd) => closed.push(fd));
  const k = Spares.kind("ns1", 2, 1, 0, 1000);
  s.put(k, [10, 11], 0);
  assertEquals(s.take(Spares.kind("ns1", 2, 1, 0, 1001)), undefined, "another owner's");
  assertEquals(s.take(Spares.kind("ns2", 2, 1, 0, 1000)), undefined, "another namespace's");
  assertEquals([s.take(k), s.take(k), s.take(k)], [11, 10, undefined]);
  assertEquals(closed, []);
});

Deno.test("Spares: closed when old, when cleared, and past the kinds they may hold", () => {
  const closed: number[] = [];
  const s = new Spares((fd) => closed.push(fd));
  s.put("a", [1, 2], 0);
  s.put("b", [3], SPARE_TTL_MS);
  s.expire(SPARE_TTL_MS + 1);
  assertEquals([closed, s.count], [[1, 2], 1]);
  s.clear();
  assertEquals([closed, s.count], [[1, 2, 3], 0]);
  for (let i = 0; i < 65; i++) s.put(`k${i}`, [100 + i], 0);
  assertEquals([closed.at(-1), s.count], [100, 64]); // the oldest kind went
  s.clear();
});
