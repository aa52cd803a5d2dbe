import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { VERSION } from "./version.ts";

Deno.test("graft, deno.json and libgraft.so carry the same version", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const makefile = await Deno.readTextFile(new URL("../preload/Makefile", import.meta.url));
  assertEquals(denoJson.version, VERSION);
  assertEquals(/GRAFT_VERSION\s*:?=\s*(\S+)/.exec(makefile)?.[1], VERSION);
});
