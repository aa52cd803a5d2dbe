import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { GraftError } from "../model/errors.ts";
import { HelperFile } from "./helper_file.ts";

Deno.test("HelperFile: the variable wins, then the embedded copy, then the build beside cli/", async () => {
  const dir = Deno.makeTempDirSync();
  const env = `GRAFT_TEST_HELPER_${Deno.pid}`;
  try {
    const [embedded, fromEnv, built] = ["embedded", "env", "built"].map((n) => `${dir}/${n}`);
    for (const p of [embedded, fromEnv, built]) Deno.writeTextFileSync(p, "");
    const f = new HelperFile("thing", env, new URL(`file://${built}`));
    assertEquals(f.path(), built);
    let extracted = 0;
    const extract = () => (extracted++, Promise.resolve(embedded));
    await f.useEmbedded(extract);
    assertEquals([f.path(), extracted], [embedded, 1]);
    Deno.env.set(env, fromEnv);
    assertEquals(f.path(), fromEnv);
    const g = new HelperFile("thing", env, new URL(`file://${built}`));
    await g.useEmbedded(extract);
    assertEquals([g.path(), extracted], [fromEnv, 1], "nothing extracted when the variable is set");
    Deno.env.set(env, dir); // a directory is not the file
    assertEquals(f.path(), embedded);
    Deno.removeSync(embedded);
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
