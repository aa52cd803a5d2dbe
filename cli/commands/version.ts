/**
 * `graft version`: the versions of the three parts.
 *
 * @module
 */

import { versions } from "../api/version.ts";
import { type Command, parseJsonOnly } from "./options.ts";

const USAGE = "graft version [-j]";

/** `graft version`. */
export const versionCommand: Command = {
  usage: USAGE,
  async run(g, args) {
    const { json } = parseJsonOnly(g, args, { command: "version", usage: USAGE });
    const v = await versions();
    if (json) {
      console.log(JSON.stringify(v));
    } else {
      console.log(`graft ${v.graft}`);
      const where = v.preloadFile ?? (v.preloadEmbedded ? "embedded" : undefined);
      console.log(`libgraft.so ${v.preload ?? "not found"}${where ? ` (${where})` : ""}`);
      console.log(`af_graft.ko ${v.kernel ?? "not loaded"}`);
    }
    return 0;
  },
};
