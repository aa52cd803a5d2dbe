import {
  deepStrictEqual as assertEquals,
  notStrictEqual,
  ok,
  rejects,
  throws,
} from "node:assert/strict";
import { extractDir, extractFile, preloadVersion } from "./embedded.ts";

const LIB = { prefix: "libgraft-", suffix: ".so", mode: 0o644 };
const extractLibrary = (bytes: Uint8Array<ArrayBuffer>, dir: string) =>
  Promise.resolve().then(() => extractFile(bytes, LIB, dir));

const lib = (s: string) => new TextEncoder().encode(`\x7fELF...${s}...`);

/** extractFile() in worker threads of their own, so that they really run at once. */
async function extractInWorkers(n: number, bytes: Uint8Array, dir: string): Promise<string[]> {
  const code = `import { extractFile } from "${new URL("./embedded.ts", import.meta.url)}";
    self.onmessage = (e) => postMessage(extractFile(e.data.bytes, e.data.lib, e.data.dir));`;
  const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
  const workers = Array.from({ length: n }, () => new Worker(url, { type: "module" }));
  try {
    return await Promise.all(workers.map((w) =>
      new Promise<string>((resolve, reject) => {
        w.onmessage = (e) => resolve(e.data);
        w.onerror = (e) => (e.preventDefault(), reject(new Error(e.message)));
        w.postMessage({ bytes, lib: LIB, dir });
      })
    ));
  } finally {
    workers.forEach((w) => w.terminate());
    URL.revokeObjectURL(url);
  }
}

Deno.test("extractFile() writes a content-addressed file once, even when raced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = lib("@(#)libgraft 1.2.3");
    const paths = await extractInWorkers(8, bytes, `${dir}/lib`);
    assertEquals(new Set(paths).size, 1);
    assertEquals(await Deno.readFile(paths[0]), bytes);
    // Nothing half-written left behind.
    assertEquals([...Deno.readDirSync(`${dir}/lib`)].length, 1);
    const other = await extractLibrary(lib("@(#)libgraft 9.9.9"), `${dir}/lib`);
    notStrictEqual(other, paths[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extractFile() replaces a file whose content was changed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = lib("x");
    const path = await extractLibrary(bytes, dir);
    await Deno.writeFile(path, lib("tampered"));
    assertEquals(await extractLibrary(bytes, dir), path);
    assertEquals(await Deno.readFile(path), bytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extractFile() refuses a directory others can write to", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o777);
    await rejects(() => extractLibrary(lib("x"), dir), /writable by nobody else/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("preloadVersion() reads the tag out of the real libgraft.so", async () => {
  const so = new URL("../../preload/build/libgraft.so", import.meta.url);
  const text = await Deno.readTextFile(new URL("../../preload/Makefile", import.meta.url));
  const want = /GRAFT_VERSION\s*[:?]?=\s*([0-9.]+)/.exec(text)?.[1];
  assertEquals(preloadVersion(await Deno.readFile(so)), want);
  assertEquals(preloadVersion(lib("no tag")), undefined);
});

Deno.test("extractFile() writes an executable, content-addressed graft-exec", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = extractFile(
      lib("graft-exec"),
      { prefix: "graft-exec-", suffix: "", mode: 0o755 },
      dir,
    );
    ok(/\/graft-exec-[0-9a-f]{32}$/.test(path), path);
    assertEquals((Deno.statSync(path).mode ?? 0) & 0o777, 0o755);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("extractDir() never falls back to /tmp, and keeps root out of /run/graft", () => {
  throws(() => extractDir({}, 1000), /neither XDG_RUNTIME_DIR nor HOME/);
  assertEquals(extractDir({ HOME: "/home/u" }, 1000), "/home/u/.cache/graft/lib");
  assertEquals(
    extractDir({ XDG_RUNTIME_DIR: "/run/user/1000", HOME: "/h" }, 1000),
    "/run/user/1000/graft/lib",
  );
  ok(!extractDir({}, 0).startsWith("/run/graft/"));
});

Deno.test("extractFile() refuses a directory below one that others own or can write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Writable by everyone, not sticky: anyone could rename graft/ and put their own there.
    await Deno.chmod(dir, 0o777);
    await rejects(() => extractLibrary(lib("x"), `${dir}/graft/lib`), /is writable by others/);
    // Sticky (as /tmp is): others cannot rename what is ours.
    await Deno.chmod(dir, 0o1777);
    ok((await extractLibrary(lib("x"), `${dir}/s/lib`)).startsWith(`${dir}/s/lib/`));
    // Owned by another user (nobody): they could swap the subtree at will.
    await Deno.chmod(dir, 0o755);
    if (Deno.uid() === 0) {
      Deno.chownSync(dir, 65534, 65534);
      await rejects(() => extractLibrary(lib("x"), `${dir}/n/lib`), /belongs to uid 65534/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
