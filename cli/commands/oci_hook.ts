/**
 * `graft oci-hook [createRuntime|poststop]`: run by an OCI runtime with the
 * container's state on stdin (see cli/containers/oci_hook.ts).
 *
 * @module
 */

import { parseState, runHook, stageOf } from "../containers/oci_hook.ts";
import { type Command, parseOptions } from "./options.ts";

const USAGE = "graft oci-hook [createRuntime|poststop]   (state JSON on stdin)";

/** `graft oci-hook`. */
export const ociHookCommand: Command = {
  usage: USAGE,
  async run(_g, args) {
    const p = parseOptions({}, args, { command: "oci-hook", usage: USAGE });
    const state = parseState(await new Response(Deno.stdin.readable).text());
    const line = runHook(stageOf(p.words[0], state), state);
    if (line) console.error(line);
    return 0;
  },
};
