/**
 * Generate cli/model/contract_gen.ts, the TypeScript side of every contract
 * between the C code and the CLI, from the C headers that define them:
 *
 *   preload/graft_proto.h    the broker wire format (constants, ops, struct layouts)
 *   kernel/uapi/af_graft.h   the generic-netlink UAPI (commands, attributes, flags)
 *   preload/graft_env.h      the environment variable names libgraft.so reads
 *
 * Names are read from the headers; values, sizes and offsets come from the C
 * compiler (a probe program includes each header and prints them), so the
 * generated file says what the C code really sees.
 *
 *   deno task contracts            rewrite cli/model/contract_gen.ts
 *   deno task contracts --check    exit 1 if the file is stale (what the test does)
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The generated file, relative to the repository root. */
export const OUTPUT = "cli/model/contract_gen.ts";

/** One header and the name its constants get in the generated file. */
interface Source {
  /** Export name in the generated file. */
  name: string;
  /** Header path relative to the repository root. */
  path: string;
  /** What the header is, for the generated JSDoc. */
  what: string;
}

/** The headers, in output order. */
export const SOURCES: Source[] = [
  { name: "PROTO", path: "preload/graft_proto.h", what: "The broker wire format" },
  { name: "UAPI", path: "kernel/uapi/af_graft.h", what: "The generic-netlink UAPI of af_graft.ko" },
  { name: "ENV", path: "preload/graft_env.h", what: "The environment variables libgraft.so reads" },
];

/** What a header declares, by name (values come from the compiler). */
export interface Declarations {
  /** Object-like #define names with a numeric value. */
  numbers: string[];
  /** Object-like #define names with a string literal value, and the literal. */
  strings: [string, string][];
  /** Enums: tag and member names (not the `__X_LAST` sentinels). */
  enums: [string, string[]][];
  /** Structs: tag and field names. */
  structs: [string, string[]][];
}

const stripComments = (s: string) => s.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/.*$/gm, "");

/** Read the declarations of one header. */
export function declarations(text: string): Declarations {
  const src = stripComments(text);
  const d: Declarations = { numbers: [], strings: [], enums: [], structs: [] };
  for (const m of src.matchAll(/^#define\s+([A-Za-z_]\w*)[ \t]+(.+?)\s*$/gm)) {
    const [, name, value] = m;
    if (name.startsWith("_")) continue; // include guards and private names
    const str = /^"((?:[^"\\]|\\.)*)"$/.exec(value);
    if (str) d.strings.push([name, JSON.parse(`"${str[1]}"`)]);
    else d.numbers.push(name);
  }
  for (const m of src.matchAll(/\benum\s+(\w+)\s*\{([^}]*)\}/g)) {
    const members = m[2].split(",").map((x) => x.trim().split(/\s*=/)[0]).filter((x) =>
      x && !x.startsWith("__")
    );
    d.enums.push([m[1], members]);
  }
  for (const m of src.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}\s*;/g)) {
    const fields = m[2].split(";").map((x) => x.trim()).filter(Boolean).map((x) =>
      /(\w+)\s*(\[[^\]]*\])?$/.exec(x)![1]
    );
    d.structs.push([m[1], fields]);
  }
  return d;
}

/** The C probe that prints every value, size and offset, one "key value" per line. */
function probe(sources: { src: Source; decl: Declarations }[]): string {
  const lines = [
    "#include <stdio.h>",
    "#include <stddef.h>",
    "#include <net/if.h>",
    "#include <sys/un.h>",
    ...sources.map(({ src }) => `#include "${join(ROOT, src.path)}"`),
    "int main(void) {",
    '  printf("SYS.IFNAMSIZ %d\\n", (int)IFNAMSIZ);',
    '  printf("SYS.SUN_PATH %zu\\n", sizeof(((struct sockaddr_un *)0)->sun_path));',
  ];
  for (const { src, decl } of sources) {
    const p = (key: string, expr: string) =>
      lines.push(`  printf("${src.name}.${key} %lld\\n", (long long)(${expr}));`);
    for (const n of decl.numbers) p(n, n);
    for (const [, members] of decl.enums) for (const n of members) p(n, n);
    for (const [tag, fields] of decl.structs) {
      p(`struct.${tag}.SIZE`, `sizeof(struct ${tag})`);
      for (const f of fields) p(`struct.${tag}.${f}`, `offsetof(struct ${tag}, ${f})`);
    }
  }
  lines.push("  return 0;", "}");
  return lines.join("\n") + "\n";
}

async function runProbe(code: string): Promise<Map<string, number>> {
  const dir = await Deno.makeTempDir({ prefix: "graft-contracts-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.c`, code);
    const cc = await new Deno.Command("cc", {
      args: ["-Wall", "-Werror", "-o", `${dir}/probe`, `${dir}/probe.c`],
    }).output();
    if (cc.code !== 0) {
      throw new Error(
        `compiling the contract probe failed:\n${new TextDecoder().decode(cc.stderr)}`,
      );
    }
    const out = await new Deno.Command(`${dir}/probe`).output();
    const values = new Map<string, number>();
    for (const line of new TextDecoder().decode(out.stdout).trim().split("\n")) {
      const [k, v] = line.split(" ");
      values.set(k, Number(v));
    }
    return values;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The longest common prefix of the names, cut after an underscore. */
function commonPrefix(names: string[]): string {
  if (names.length < 2) return names[0]?.replace(/[^_]*$/, "") ?? "";
  let p = names[0];
  for (const n of names) while (!n.startsWith(p)) p = p.slice(0, -1);
  return p.slice(0, p.lastIndexOf("_") + 1);
}

const hex = (n: number) => n > 0xffff ? `0x${n.toString(16)}` : String(n);

function emitSource(src: Source, decl: Declarations, v: Map<string, number>): string[] {
  const get = (k: string) => {
    const x = v.get(`${src.name}.${k}`);
    if (x === undefined) throw new Error(`probe printed no ${src.name}.${k}`);
    return x;
  };
  const out = [`/** ${src.what} (${src.path}). */`, `export const ${src.name} = {`];
  for (const n of decl.numbers) out.push(`  ${n}: ${hex(get(n))},`);
  for (const [n, s] of decl.strings) out.push(`  ${n}: ${JSON.stringify(s)},`);
  for (const [tag, members] of decl.enums) {
    const prefix = commonPrefix(members);
    out.push(`  /** enum ${tag} (prefix ${prefix} removed). */`, `  ${tag}: {`);
    for (const m of members) out.push(`    ${m.slice(prefix.length)}: ${hex(get(m))},`);
    out.push("  },");
  }
  for (const [tag, fields] of decl.structs) {
    out.push(`  /** struct ${tag}: SIZE in bytes, then each field's offset. */`, `  ${tag}: {`);
    out.push(`    SIZE: ${get(`struct.${tag}.SIZE`)},`);
    for (const f of fields) out.push(`    ${f}: ${get(`struct.${tag}.${f}`)},`);
    out.push("  },");
  }
  out.push("} as const;", "");
  return out;
}

/** The text of cli/model/contract_gen.ts for the headers as they are now. */
export async function generate(): Promise<string> {
  const sources = SOURCES.map((src) => ({
    src,
    decl: declarations(Deno.readTextFileSync(join(ROOT, src.path))),
  }));
  const v = await runProbe(probe(sources));
  const out = [
    "// Generated by scripts/gen-contracts.ts from " +
    SOURCES.map((s) => s.path).join(", ") + ".",
    "// Do not edit: change the header, then run `deno task contracts`.",
    "// cli/contracts_test.ts fails while this file is stale.",
    "",
    "/**",
    " * The C side's constants, enums and struct layouts, as the compiler sees them.",
    " *",
    " * @module",
    " */",
    "",
    "/** Limits of the C library the contracts depend on. */",
    "export const SYS = {",
    `  IFNAMSIZ: ${v.get("SYS.IFNAMSIZ")},`,
    `  /** sizeof(sockaddr_un.sun_path), the NUL included. */`,
    `  SUN_PATH: ${v.get("SYS.SUN_PATH")},`,
    "} as const;",
    "",
  ];
  for (const { src, decl } of sources) out.push(...emitSource(src, decl, v));
  return await denoFmt(out.join("\n"));
}

/** The text as `deno fmt` would write it, so the file passes `deno fmt --check`. */
async function denoFmt(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=ts", "--line-width=100", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`deno fmt: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

if (import.meta.main) {
  const text = await generate();
  const path = join(ROOT, OUTPUT);
  let current = "";
  try {
    current = Deno.readTextFileSync(path);
  } catch { /* first run */ }
  if (Deno.args.includes("--check")) {
    if (current !== text) {
      console.error(`${OUTPUT} is stale: run deno task contracts`);
      Deno.exit(1);
    }
  } else if (current !== text) {
    Deno.writeTextFileSync(path, text);
    console.error(`wrote ${OUTPUT}`);
  }
}
