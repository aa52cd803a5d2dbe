/**
 * The layers of cli/ read top-down: a module imports only from its own layer
 * or lower ones. This test parses every import and fails on one that points
 * up (model -> sys, anything -> commands, mod.ts -> commands, ...).
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Lowest first. main.ts (the command table) sits above everything. */
export const LAYERS = [
  "model",
  "sys",
  "broker",
  "backends",
  "api",
  "containers",
  "commands",
  "main",
] as const;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The layer of a file under the repository root, or undefined outside cli/. */
export function layerOf(path: string): number | undefined {
  const rel = relative(ROOT, path);
  if (rel === "mod.ts") return LAYERS.indexOf("api"); // the library sees what api/ sees
  const m = /^cli\/([^/]+)(\/|$)/.exec(rel);
  if (!m) return undefined;
  const top = m[1] === "main.ts" ? "main" : m[1];
  const i = LAYERS.indexOf(top as typeof LAYERS[number]);
  if (i < 0) throw new Error(`${rel}: cli/${top} is not a layer (${LAYERS.join(", ")})`);
  return i;
}

/** The relative imports (static, dynamic and re-exports) of a TypeScript source. */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  const re =
    /(?:^|[\s;}])(?:import|export)\s*(?:type\s+)?(?:[^'";]*?\sfrom\s*)?\(?\s*["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of source.matchAll(re)) out.push(m[1]);
  return out;
}

/** Every upward import among `files`: "from -> to (layer a imports layer b)". */
export function upwardImports(files: string[], read: (p: string) => string): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const from = layerOf(f);
    if (from === undefined) continue;
    for (const spec of importsOf(read(f))) {
      const target = resolve(dirname(f), spec);
      const to = layerOf(target);
      if (to !== undefined && to > from) {
        bad.push(
          `${relative(ROOT, f)} imports ${relative(ROOT, target)} ` +
            `(${LAYERS[from]} must not import ${LAYERS[to]})`,
        );
      }
    }
  }
  return bad;
}

function sources(): string[] {
  const out = [join(ROOT, "mod.ts")];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) out.push(p);
    }
  };
  walk(join(ROOT, "cli"));
  return out;
}

Deno.test("no module in cli/ or mod.ts imports from a higher layer", () => {
  const files = sources();
  ok(files.length > 20, `found only ${files.length} sources`);
  assertEquals(upwardImports(files, (p) => Deno.readTextFileSync(p)), []);
});

Deno.test("upwardImports() catches a lower layer importing a higher one", () => {
  const fake: Record<string, string> = {
    [join(ROOT, "cli/model/x.ts")]: `import { C } from "../sys/ffi.ts";`,
    [join(ROOT, "cli/sys/y.ts")]: `export { z } from "../commands/options.ts";`,
    [join(ROOT, "mod.ts")]: `export * from "./cli/commands/ep.ts";`,
    [join(ROOT, "cli/broker/w.ts")]: `const m = await import("../api/inspect.ts");`,
    [join(ROOT, "cli/api/ok.ts")]: `import type { E } from "../model/endpoint.ts";`,
  };
  const bad = upwardImports(Object.keys(fake), (p) => fake[p]);
  assertEquals(bad.length, 4, bad.join("\n"));
  ok(bad[0].includes("model must not import sys"));
  ok(bad[2].includes("mod.ts imports cli/commands/ep.ts"));
});
