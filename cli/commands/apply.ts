/**
 * `graft apply`: declare the endpoints of many namespaces in one YAML file.
 *
 * @module
 */

import { applyFile, applyText, formatApplyResult } from "../api/apply.ts";
import { selectBackend } from "../backends/select.ts";
import { UsageError } from "../model/errors.ts";
import { type Command, parseOptions, str } from "./options.ts";

const APPLY_USAGE = "graft [--backend B] [-j] apply -f FILE.yaml [--prune] [--dry-run]";

function readAllStdin(): string {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = Deno.stdin.readSync(buf);
    if (n === null || n === 0) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(out);
}

/** `graft apply -f FILE.yaml [--prune] [--dry-run]`. */
export const applyCommand: Command = {
  usage: APPLY_USAGE,
  run(g, args) {
    const p = parseOptions(
      {
        file: { long: "file", short: "f", value: "a file", aliases: ["filename"] },
        prune: { long: "prune" },
        dryRun: { long: "dry-run" },
        json: { long: "json", short: "j" },
      },
      args,
      { command: "apply", usage: APPLY_USAGE },
    );
    if (p.words.length) throw new UsageError(`unexpected "${p.words[0]}"; usage: ${APPLY_USAGE}`);
    const file = str(p, "file");
    if (file === undefined) throw new UsageError(`no file given; usage: ${APPLY_USAGE}`);
    if (g.netns !== undefined) {
      throw new UsageError("the file names its namespaces; drop -n for apply");
    }
    const opts = {
      prune: p.values.prune === true,
      dryRun: p.values.dryRun === true,
      backend: selectBackend(g.backend),
    };
    const r = file === "-" ? applyText(readAllStdin(), "<stdin>", opts) : applyFile(file, opts);
    const json = g.json || p.values.json === true;
    console.log(json ? JSON.stringify(r, null, 2) : formatApplyResult(r, opts.dryRun));
    return 0;
  },
};
