/**
 * The shared mapping vectors (tests/vectors/mapping.tsv), which the C parser
 * of libgraft.so passes too (make -C preload test): both sides read `-i` and
 * `-e` mappings the same way.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { parseEgress, parseIngress } from "./mapping.ts";

const FILE = new URL("../../tests/vectors/mapping.tsv", import.meta.url);

interface Vector {
  line: number;
  kind: "ingress" | "egress";
  input: string;
  expect: string;
}

function vectors(): Vector[] {
  const out: Vector[] = [];
  Deno.readTextFileSync(FILE).split("\n").forEach((text, i) => {
    if (text.trim() === "" || text.startsWith("#")) return;
    const [kind, input, expect, ...extra] = text.split("\t");
    if ((kind !== "ingress" && kind !== "egress") || expect === undefined || extra.length) {
      throw new Error(`mapping.tsv:${i + 1}: not KIND<TAB>INPUT<TAB>EXPECT: ${text}`);
    }
    out.push({ line: i + 1, kind, input, expect });
  });
  return out;
}

/** The canonical text of a parse, as the vectors write it; "error" for a refusal. */
function canonical(kind: "ingress" | "egress", input: string): string {
  try {
    if (kind === "ingress") {
      const m = parseIngress(input);
      return `${m.addr} ${m.portLo} ${m.portHi} ${m.ep}`;
    }
    const m = parseEgress(input);
    return `${m.prefix} ${m.len} ${m.ep}`;
  } catch (e) {
    if (e instanceof UsageError && e.exitCode === 2) return "error";
    throw e;
  }
}

Deno.test("parseIngress() and parseEgress() pass every shared mapping vector", async (t) => {
  const all = vectors();
  ok(all.length >= 20, `only ${all.length} vectors in ${FILE.pathname}`);
  for (const v of all) {
    await t.step(`${v.line}: ${v.kind} ${JSON.stringify(v.input)}`, () => {
      assertEquals(canonical(v.kind, v.input), v.expect);
    });
  }
});
