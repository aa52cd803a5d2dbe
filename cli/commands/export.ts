/**
 * `graft export`: the current endpoints in the apply format.
 *
 * @module
 */

import { exportObject, exportState } from "../api/apply.ts";
import { selectBackend } from "../backends/select.ts";
import { UsageError } from "../model/errors.ts";
import { type Command, parseJsonOnly } from "./options.ts";

const EXPORT_USAGE = "graft [--backend B] [-j] export";

/** `graft export`: the current endpoints in the apply format (-j: as JSON, which apply reads too). */
export const exportCommand: Command = {
  usage: EXPORT_USAGE,
  run(g, args) {
    const { json } = parseJsonOnly(g, args, { command: "export", usage: EXPORT_USAGE });
    if (g.netns !== undefined) throw new UsageError("export covers every namespace; drop -n");
    const backend = selectBackend(g.backend);
    if (json) console.log(JSON.stringify(exportObject(backend), null, 2));
    else Deno.stdout.writeSync(new TextEncoder().encode(exportState(backend)));
    return 0;
  },
};
