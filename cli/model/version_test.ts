import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { VERSION } from "./version.ts";

Deno.test("graft, deno.json, libgraft.so and af_graft.ko carry the same version", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const makefile = await Deno.readTextFile(new URL("../../preload/Makefile", import.meta.url));
  assertEquals(denoJson.version, VERSION);
  assertEquals(/GRAFT_VERSION\s*:?=\s*(\S+)/.exec(makefile)?.[1], VERSION);
  const uapi = await Deno.readTextFile(new URL("../../kernel/uapi/af_graft.h", import.meta.url));
  assertEquals(/#define AF_GRAFT_VERSION "([^"]+)"/.exec(uapi)?.[1], VERSION);
});
