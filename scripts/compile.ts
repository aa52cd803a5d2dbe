/**
 * `deno task compile`: build the one-file `graft` executable with
 * libgraft.so, graft-exec and libgraft-native.so embedded, at dist/graft.
 *
 * `deno compile` needs its runtime (denort). Where it cannot be downloaded,
 * point DENORT_BIN at a denort of the same Deno version.
 *
 * usage: deno task compile [--output PATH]
 */

const root = new URL("..", import.meta.url).pathname;
const args = Deno.args;
const outIdx = args.indexOf("--output");
const output = outIdx >= 0 ? args[outIdx + 1] : `${root}dist/graft`;

async function run(cmd: string, cmdArgs: string[]): Promise<boolean> {
  const { code } = await new Deno.Command(cmd, { args: cmdArgs, cwd: root }).spawn().status;
  return code === 0;
}

for (const dir of ["preload", "exec", "native"]) {
  if (!(await run("make", ["-s", "-C", dir]))) {
    console.error(`compile: building ${dir}/ failed`);
    Deno.exit(1);
  }
}
const denort = Deno.env.get("DENORT_BIN");
if (denort) console.error(`compile: using DENORT_BIN=${denort}`);
const ok = await run(Deno.execPath(), [
  "compile",
  "--allow-all",
  "--no-prompt",
  "--include",
  "preload/build/libgraft.so",
  "--include",
  "exec/build/graft-exec",
  "--include",
  "native/build/libgraft-native.so",
  "--output",
  output,
  "cli/main.ts",
]);
if (!ok) {
  console.error(
    denort
      ? `compile: deno compile failed with DENORT_BIN=${denort}`
      : "compile: deno compile failed; it needs its runtime (denort): set DENORT_BIN " +
        "to a denort binary of this Deno version where it cannot be downloaded",
  );
  Deno.exit(1);
}
console.error(`compile: wrote ${output}`);
