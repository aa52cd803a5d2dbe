import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import {
  canonicalMapping,
  emptyMaps,
  mapConflict,
  mappedEndpoints,
  mapsFromJson,
} from "./nsmap.ts";
import { UsageError } from "./errors.ts";

Deno.test("canonicalMapping() prints what libgraft reads back", () => {
  assertEquals(canonicalMapping("ingress", "0.0.0.0:80=web"), "0.0.0.0:80=web");
  assertEquals(canonicalMapping("ingress", "[::0]:80-81=web6"), "[::]:80-81=web6");
  assertEquals(canonicalMapping("egress", "10.1.2.3/8=out"), "10.0.0.0/8=out");
  assertThrows(() => canonicalMapping("ingress", "0.0.0.0/0=out"), UsageError);
  assertThrows(() => canonicalMapping("egress", "0.0.0.0:80=web"), UsageError);
});

Deno.test("mapConflict() refuses overlapping ranges and a second endpoint for one prefix", async (t) => {
  const maps = { ingress: ["0.0.0.0:80-90=a"], egress: ["0.0.0.0/0=out"] };
  const cases: [string, "ingress" | "egress", string, boolean][] = [
    ["overlapping range", "ingress", "0.0.0.0:90-95=b", true],
    ["same port", "ingress", "0.0.0.0:85=a", true],
    ["other address", "ingress", "[::]:85=a", false],
    ["adjacent range", "ingress", "0.0.0.0:91=a", false],
    ["same prefix", "egress", "0.0.0.0/0=other", true],
    ["longer prefix", "egress", "10.0.0.0/8=other", false],
  ];
  for (const [name, kind, text, conflicts] of cases) {
    await t.step(name, () => assertEquals(mapConflict(maps, kind, text) !== undefined, conflicts));
  }
  assertEquals(mapConflict(emptyMaps(), "ingress", "0.0.0.0:80=a"), undefined);
});

Deno.test("mapsFromJson() canonicalises and refuses bad entries", () => {
  const maps = mapsFromJson({ ingress: ["[::0]:80=w"], egress: ["10.9.9.9/8=o"] });
  assertEquals(maps, { ingress: ["[::]:80=w"], egress: ["10.0.0.0/8=o"] });
  assertEquals(mappedEndpoints(maps), ["w", "o"]);
  assertEquals(mapsFromJson(undefined), emptyMaps());
  assertThrows(() => mapsFromJson({ ingress: "x" }), UsageError);
  assertThrows(() => mapsFromJson({ egress: ["nonsense"] }), UsageError);
});
