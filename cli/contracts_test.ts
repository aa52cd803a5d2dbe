/**
 * One source for each contract between the C code and the CLI: the headers.
 * cli/model/contract_gen.ts is generated from them (scripts/gen-contracts.ts);
 * these tests fail when it is stale, when a limit disagrees between the two
 * C sides, or when the C code reads an environment variable by a name the
 * header does not define.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { declarations, generate, OUTPUT, SOURCES } from "../scripts/gen-contracts.ts";
import { ENV as LAUNCHER_ENV } from "./backends/launcher.ts";
import { UNIX_PATH_MAX } from "./model/addr.ts";
import { ENV, PROTO, SYS, UAPI } from "./model/contract_gen.ts";
import { EP_NAME_MAX } from "./model/endpoint.ts";

const root = new URL("../", import.meta.url);

Deno.test("contract_gen.ts is what the headers generate (run `deno task contracts` if not)", async () => {
  const want = await generate();
  const have = await Deno.readTextFile(new URL(OUTPUT, root));
  assertEquals(have, want, `${OUTPUT} is stale: run deno task contracts`);
});

Deno.test("every constant of every header is in contract_gen.ts", async (t) => {
  const gen: Record<string, Record<string, unknown>> = { PROTO, UAPI, ENV };
  for (const src of SOURCES) {
    await t.step(src.path, () => {
      const d = declarations(Deno.readTextFileSync(new URL(src.path, root)));
      const have = gen[src.name];
      const names = [...d.numbers, ...d.strings.map(([n]) => n)];
      for (const n of names) ok(n in have, `${n} of ${src.path} is missing`);
      for (const [tag, members] of d.enums) {
        ok(tag in have, `enum ${tag} of ${src.path} is missing`);
        assertEquals(Object.keys(have[tag] as object).length, members.length, `enum ${tag}`);
      }
      for (const [tag, fields] of d.structs) {
        assertEquals(Object.keys(have[tag] as object), ["SIZE", ...fields], `struct ${tag}`);
      }
      ok(names.length > 3, `read only ${names.length} names from ${src.path}`);
    });
  }
});

Deno.test("the name and path limits agree: wire format, UAPI, libc and the CLI", () => {
  assertEquals(PROTO.GRAFT_EPNAME_MAX, UAPI.AF_GRAFT_EPNAME_MAX);
  assertEquals(PROTO.GRAFT_EPNAME_MAX, SYS.IFNAMSIZ);
  assertEquals(EP_NAME_MAX, PROTO.GRAFT_EPNAME_MAX - 1);
  assertEquals(UNIX_PATH_MAX, SYS.SUN_PATH - 1);
  assertEquals(UAPI.sockaddr_gr.SIZE - UAPI.sockaddr_gr.sgr_epname, UAPI.AF_GRAFT_EPNAME_MAX);
});

Deno.test("the launcher knows every variable of graft_env.h", () => {
  const launcher = new Set<string>(Object.values(LAUNCHER_ENV));
  for (const [macro, name] of Object.entries(ENV)) {
    ok(launcher.has(name), `${macro} (${name}) is not in backends/launcher.ts's ENV`);
  }
});

Deno.test("libgraft.so reads the environment only through graft_env.h's names", () => {
  const dir = new URL("preload/", root);
  const literal: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!/\.[ch]$/.test(e.name)) continue;
    const text = Deno.readTextFileSync(new URL(e.name, dir));
    for (const m of text.matchAll(/\b(?:secure_)?getenv\s*\(\s*"([^"]+)"/g)) {
      literal.push(`${e.name}: getenv("${m[1]}")`);
    }
  }
  assertEquals(literal, [], "define the name in preload/graft_env.h and use the macro");
});
