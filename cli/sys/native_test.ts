import { deepStrictEqual as assertEquals, match } from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

Deno.test({
  name: "graft daemon without a usable libgraft-native.so stops at once and says what to do",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "graft-native-test." });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--quiet", MAIN, "daemon", "--socket", `${dir}/g.sock`],
        env: { GRAFT_NATIVE: "/etc/hostname" }, // a file, not a library
        stdout: "null",
      }).output();
      const err = new TextDecoder().decode(out.stderr).trim().split("\n");
      assertEquals([out.code, err.length], [1, 1]);
      match(
        err[0],
        /^graft: cannot load libgraft-native\.so from \/etc\/hostname: .*make -C native/,
      );
      assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [], "nothing left behind");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
