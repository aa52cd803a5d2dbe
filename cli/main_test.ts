import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { GRAFT_EXEC, LIBGRAFT } from "./backends/helper_file.ts";
import { main } from "./main.ts";

/** Runs `main(argv)`, keeping what it prints on stdout. */
async function captured(argv: string[]): Promise<{ code: number; out: string }> {
  const log = console.log;
  let out = "";
  console.log = (...a: unknown[]) => void (out += a.join(" ") + "\n");
  try {
    return { code: await main(argv), out };
  } finally {
    console.log = log;
  }
}

/** A broker on a thread of this process (runs need one, even without mappings). */
async function withBroker(socketPath: string, fn: () => Promise<void>): Promise<void> {
  const w = new Worker(new URL("./broker/testdata/serve_worker.ts", import.meta.url), {
    type: "module",
  });
  const next = () => new Promise((resolve) => (w.onmessage = (e) => resolve(e.data)));
  try {
    const listening = next();
    w.postMessage({ socketPath });
    assertEquals(await listening, "listening");
    await fn();
    const stopped = next();
    w.postMessage("stop");
    assertEquals(await stopped, "stopped");
  } finally {
    w.terminate();
  }
}

function listing(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

// The broker that `graft run` asks needs root (it opens namespace descriptors).
Deno.test({
  name: "a compiled graft writes its helper files out only for a command that runs a program",
  ignore: Deno.uid() !== 0,
  fn: startsLazily,
});

async function startsLazily(): Promise<void> {
  const tmp = Deno.makeTempDirSync();
  const out = `${tmp}/lib`;
  const saved = ["GRAFT_PRELOAD", "GRAFT_EXEC", "GRAFT_SOCKET"].map((k) => [k, Deno.env.get(k)]);
  const reads = { libgraft: 0, exec: 0 };
  try {
    // What `deno compile` would carry: the real builds, read through the helpers' own hook.
    const lib = Deno.readFileSync(LIBGRAFT.beside);
    const exec = Deno.readFileSync(GRAFT_EXEC.beside);
    LIBGRAFT.source = () => (reads.libgraft++, lib);
    GRAFT_EXEC.source = () => (reads.exec++, exec);
    LIBGRAFT.dir = GRAFT_EXEC.dir = () => out;
    Deno.env.delete("GRAFT_PRELOAD");
    Deno.env.delete("GRAFT_EXEC");
    Deno.env.set("GRAFT_SOCKET", `${tmp}/graft.sock`);

    const v = await captured(["-j", "version"]);
    assertEquals(v.code, 0);
    const j = JSON.parse(v.out);
    ok(/^\d+\.\d+/.test(j.preload), v.out);
    assertEquals([j.preloadFile, j.preloadEmbedded], [null, true]);
    ok((await captured(["version"])).out.includes(`libgraft.so ${j.preload} (embedded)`));
    await captured(["--backend", "broker", "ep", "list"]); // no broker: fails, writes nothing
    await captured(["help"]);
    assertEquals(listing(out), [], "version, ep list and help wrote nothing out");
    assertEquals(reads.exec, 0);

    const run = ["--backend", "broker", "run", "--mode", "preload", "--", "true"];
    await withBroker(`${tmp}/graft.sock`, async () => {
      assertEquals((await captured(run)).code, 0);
    });
    const files = listing(out);
    assertEquals(files.length, 1, files.join(" "));
    ok(/^libgraft-[0-9a-f]{32}\.so$/.test(files[0]), files[0]);
    assertEquals(reads.exec, 0, "preload mode needs no graft-exec");
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k!) : Deno.env.set(k!, v);
    Deno.removeSync(tmp, { recursive: true });
  }
}
