/**
 * A private entry point for `inspect`, `apply` and `export` until cli/main.ts
 * wires them: `deno run -A tests/inspect_main.ts [GLOBALS] inspect|apply|export ...`.
 * Used by tests/inspect_apply.sh when GRAFT_INSPECT_MAIN=1.
 *
 * @module
 */

import { cmdApply, cmdExport } from "../cli/apply.ts";
import { GraftError } from "../cli/errors.ts";
import { cmdInspect } from "../cli/inspect.ts";
import { main, parseGlobals } from "../cli/main.ts";

async function run(argv: string[]): Promise<number> {
  try {
    const { globals, rest } = parseGlobals(argv);
    const [cmd, ...args] = rest;
    switch (cmd) {
      case "inspect":
        return await cmdInspect(globals, args);
      case "apply":
        return cmdApply(globals, args);
      case "export":
        return cmdExport(globals, args);
      default:
        return await main(argv);
    }
  } catch (e) {
    if (e instanceof GraftError) {
      console.error(`graft: ${e.message}`);
      return e.exitCode;
    }
    console.error(`graft: internal error: ${(e as Error).message}`);
    if (Deno.env.get("GRAFT_DEBUG")) console.error((e as Error).stack);
    return 1;
  }
}

Deno.exit(await run(Deno.args));
