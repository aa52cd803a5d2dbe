import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { inspectProgram, preloadBlocker, resolveCommand } from "./elf.ts";

/** A minimal ELF64 header with `phnum` program headers of the given types. */
function elf(types: number[]): Uint8Array {
  const b = new Uint8Array(64 + 56 * types.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  const v = new DataView(b.buffer);
  v.setBigUint64(0x20, 64n, true); // e_phoff
  v.setUint16(0x36, 56, true); // e_phentsize
  v.setUint16(0x38, types.length, true); // e_phnum
  types.forEach((t, i) => v.setUint32(64 + 56 * i, t, true));
  return b;
}

Deno.test("inspectProgram() tells dynamic, static, set-id and non-ELF files apart", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const write = (name: string, bytes: Uint8Array, mode = 0o755) => {
      Deno.writeFileSync(`${dir}/${name}`, bytes);
      Deno.chmodSync(`${dir}/${name}`, mode);
      return `${dir}/${name}`;
    };
    await t.step("PT_INTERP: dynamic, nothing blocks LD_PRELOAD", () => {
      const i = inspectProgram(write("dyn", elf([6, 3, 1])));
      assertEquals([i.dynamic, i.go, preloadBlocker(i)], [true, false, undefined]);
    });
    await t.step("no PT_INTERP: static", () => {
      const i = inspectProgram(write("static", elf([1, 1])));
      assertEquals(i.dynamic, false);
      ok(preloadBlocker(i)?.includes("statically linked"));
    });
    await t.step("set-user-ID", () => {
      const i = inspectProgram(write("suid", elf([3]), 0o4755));
      ok(preloadBlocker(i)?.includes("set-user-ID"));
    });
    await t.step("a script is not ELF and not blocked", () => {
      const i = inspectProgram(write("script", new TextEncoder().encode("#!/bin/sh\n")));
      assertEquals([i.dynamic, preloadBlocker(i)], [undefined, undefined]);
    });
    await t.step("truncated headers are not an error", () => {
      const i = inspectProgram(write("short", elf([3]).slice(0, 80)));
      assertEquals(i.dynamic, false);
    });
    await t.step("resolveCommand() searches PATH like execvp", () => {
      assertEquals(resolveCommand("dyn", `/nonexistent:${dir}`), `${dir}/dyn`);
      assertEquals(resolveCommand("nosuch", dir), undefined);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspectProgram() finds Go's build information in a real Go binary, if one is installed", () => {
  const caddy = resolveCommand("caddy");
  if (!caddy) return; // the seccomp suite checks the real programs
  const i = inspectProgram(caddy);
  ok(i.go && preloadBlocker(i)?.includes("Go program"));
});
