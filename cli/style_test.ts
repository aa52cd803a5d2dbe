/**
 * No function over 80 lines in cli/, preload/ or kernel/ (tests aside): a
 * long function is split into named steps. Functions are found by their
 * shape (a declaration line, the closing brace at the same indent), which
 * fits how this code is formatted (deno fmt; kernel style for C).
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";

const MAX = 80;
const root = new URL("../", import.meta.url);

const TS_START =
  /^(\s*)(?:export\s+)?(?:async\s+)?(?:function\s*\*?\s*\w+|(?:static\s+|get\s+|set\s+)*#?\w+\s*(?:<[^>]*>)?\s*\(|(?:const|let)\s+\w+\s*=\s*(?:async\s*)?\(|constructor\s*\()/;
const NOT_DECL = /^\s*(if|for|while|switch|return|catch|else|do|try|})\b/;

/** Functions longer than `max` lines in a TypeScript source: "line: N lines". */
export function longTsFunctions(text: string, max = MAX): string[] {
  const lines = text.split("\n");
  const out: string[] = [];
  lines.forEach((l, i) => {
    const m = TS_START.exec(l);
    if (!m || NOT_DECL.test(l)) return;
    const indent = m[1];
    let body = l.trimEnd().endsWith("{");
    for (let k = i + 1; !body && k < Math.min(i + 12, lines.length); k++) {
      // A signature over several lines ends with ") ... {" at the same indent.
      if (lines[k].startsWith(indent + ")") && lines[k].trimEnd().endsWith("{")) body = true;
      else if (!lines[k].startsWith(indent + " ")) break;
    }
    if (!body) return;
    const end = lines.findIndex((x, j) => j > i && x.startsWith(indent + "}"));
    if (end > 0 && end - i + 1 > max) out.push(`${i + 1}: ${end - i + 1} lines: ${l.trim()}`);
  });
  return out;
}

/** Functions longer than `max` lines in a C source (body braces in column 0). */
export function longCFunctions(text: string, max = MAX): string[] {
  const lines = text.split("\n");
  const out: string[] = [];
  let open = -1;
  lines.forEach((l, i) => {
    if (l.startsWith("{")) open = i;
    else if (l.startsWith("}") && open >= 0) {
      // The signature is the line(s) above the brace: count from the one before it.
      if (i - open + 2 > max) out.push(`${open}: ${i - open + 2} lines: ${lines[open - 1]}`);
      open = -1;
    }
  });
  return out;
}

function files(dir: string, re: RegExp): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(new URL(rel, root))) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory && e.name !== "build" && e.name !== "testdata") walk(p);
      else if (e.isFile && re.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

Deno.test(`no function over ${MAX} lines in cli/, preload/ or kernel/ (tests aside)`, () => {
  const long: string[] = [];
  const ts = files("cli", /(?<!_test)\.ts$/);
  const c = [...files("preload", /\.c$/), ...files("kernel", /\.c$/)];
  ok(ts.length > 30 && c.length > 5, `found only ${ts.length} TypeScript and ${c.length} C files`);
  for (const f of ts) {
    long.push(...longTsFunctions(Deno.readTextFileSync(new URL(f, root))).map((x) => `${f}:${x}`));
  }
  for (const f of c) {
    long.push(...longCFunctions(Deno.readTextFileSync(new URL(f, root))).map((x) => `${f}:${x}`));
  }
  assertEquals(long, []);
});

Deno.test("the length checks find long functions of either shape", () => {
  const body = Array.from({ length: 85 }, () => "  x();").join("\n");
  assertEquals(longTsFunctions(`export function f(a: number): void {\n${body}\n}\n`).length, 1);
  assertEquals(longTsFunctions(`  #m(\n    a: number,\n  ): void {\n${body}\n  }\n`).length, 1);
  assertEquals(longTsFunctions(`function f() {\n  x();\n}\n`), []);
  assertEquals(longCFunctions(`static int f(void)\n{\n${body}\n}\n`).length, 1);
});
