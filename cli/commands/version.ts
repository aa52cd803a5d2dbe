/**
 * `graft version`: the versions of the three parts.
 *
 * @module
 */

import { versions } from "../api/version.ts";
import { UsageError } from "../model/errors.ts";
import { type Command, parseOptions } from "./options.ts";

const USAGE = "graft version [-j]";

/** `graft version`. */
export const versionCommand: Command = {
  usage: USAGE,
  async run(g, args) {
    const p = parseOptions({ json: { long: "json", short: "j" } }, args, {
      command: "version",
      usage: USAGE,
    });
    if (p.words.length) throw new UsageError(`unexpected "${p.words[0]}"; usage: ${USAGE}`);
    const v = await versions();
    if (g.json || p.values.json) {
      console.log(JSON.stringify(v));
    } else {
      console.log(`graft ${v.graft}`);
      console.log(
        `libgraft.so ${v.preload ?? "not found"}${v.preloadFile ? ` (${v.preloadFile})` : ""}`,
      );
      console.log(`af_graft.ko ${v.kernel ?? "not loaded"}`);
    }
    return 0;
  },
};
