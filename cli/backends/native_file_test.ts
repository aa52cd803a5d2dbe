import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { NATIVE } from "./helper_file.ts";

Deno.test("NATIVE: a compiled graft's copy of libgraft-native.so is written out and loads", () => {
  const dir = Deno.makeTempDirSync();
  const saved = Deno.env.get("GRAFT_NATIVE");
  Deno.env.delete("GRAFT_NATIVE");
  try {
    assertEquals([NATIVE.name, NATIVE.envVar], ["libgraft-native.so", "GRAFT_NATIVE"]);
    const built = Deno.readFileSync(NATIVE.beside); // what deno compile --include carries
    NATIVE.source = (url) => url.href === NATIVE.beside.href ? built : undefined;
    NATIVE.dir = () => `${dir}/lib`;
    const path = NATIVE.path();
    ok(/\/lib\/libgraft-native-[0-9a-f]{32}\.so$/.test(path), path);
    const lib = Deno.dlopen(path, {
      graft_native_layout: { parameters: ["buffer", "u32"], result: "i32" },
    });
    try {
      const out = new Uint32Array(1);
      assertEquals(lib.symbols.graft_native_layout(out, 1), 1);
      ok(out[0] >= 1, `ABI ${out[0]}`);
    } finally {
      lib.close();
    }
  } finally {
    if (saved !== undefined) Deno.env.set("GRAFT_NATIVE", saved);
    Deno.removeSync(dir, { recursive: true });
  }
});
