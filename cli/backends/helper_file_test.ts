import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { GraftError } from "../model/errors.ts";
import { HelperFile } from "./helper_file.ts";

const NAMING = { prefix: "thing-", suffix: "", mode: 0o644 };

Deno.test("HelperFile: the variable wins, then the embedded copy, then the build beside cli/", () => {
  const dir = Deno.makeTempDirSync();
  const env = `GRAFT_TEST_HELPER_${Deno.pid}`;
  try {
    const [fromEnv, built] = ["env", "built"].map((n) => `${dir}/${n}`);
    for (const p of [fromEnv, built]) Deno.writeTextFileSync(p, "");
    const plain = new HelperFile("thing", env, new URL(`file://${built}`), NAMING);
    assertEquals(plain.path(), built, "nothing compiled in outside a compiled graft");
    assertEquals(plain.locate(), { path: built });
    const f = new HelperFile("thing", env, new URL(`file://${built}`), NAMING);
    let reads = 0;
    f.source = () => (reads++, new TextEncoder().encode("compiled in"));
    f.dir = () => `${dir}/lib`;
    assertEquals(f.locate(), { embedded: new TextEncoder().encode("compiled in") });
    throws(() => Deno.statSync(`${dir}/lib`), Deno.errors.NotFound, "locate() wrote nothing");
    const extracted = f.path();
    ok(/\/lib\/thing-[0-9a-f]{32}$/.test(extracted), extracted);
    assertEquals(Deno.readTextFileSync(extracted), "compiled in");
    assertEquals([f.path(), f.locate(), reads], [extracted, { path: extracted }, 2]);
    Deno.env.set(env, fromEnv);
    assertEquals([f.path(), f.locate()], [fromEnv, { path: fromEnv }]);
    const g = new HelperFile("thing", env, new URL(`file://${built}`), NAMING);
    g.source = f.source;
    assertEquals([g.path(), reads], [fromEnv, 2], "nothing read when the variable is set");
    Deno.env.set(env, dir); // a directory is not the file
    assertEquals(f.path(), extracted);
    Deno.removeSync(extracted);
    Deno.removeSync(built);
    throws(
      () => f.path(),
      (e: unknown) =>
        e instanceof GraftError &&
        e.message === `thing not found: run ./scripts/setup to build it, or set ${env} to its path`,
    );
  } finally {
    Deno.env.delete(env);
    Deno.removeSync(dir, { recursive: true });
  }
});
