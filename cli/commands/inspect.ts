/**
 * `graft inspect`: namespaces, endpoints and grafted sockets on this host.
 *
 * @module
 */

import { formatInspect, inspect } from "../api/inspect.ts";
import { UsageError } from "../model/errors.ts";
import { type Command, parseOptions, str } from "./options.ts";

const USAGE = "graft [-n NETNS] [-j] inspect [--all] [--width N]";

/** `graft inspect`. */
export const inspectCommand: Command = {
  usage: USAGE,
  async run(g, args) {
    const p = parseOptions(
      {
        all: { long: "all", short: "a" },
        json: { long: "json", short: "j" },
        width: { long: "width", short: "w", value: "a number" },
      },
      args,
      { command: "inspect", usage: USAGE },
    );
    if (p.words.length) throw new UsageError(`unexpected "${p.words[0]}"; usage: ${USAGE}`);
    const all = p.values.all === true;
    let width = str(p, "width") === undefined ? undefined : Number(str(p, "width"));
    if (width !== undefined && (!Number.isInteger(width) || width < 40)) {
      throw new UsageError(`usage: ${USAGE}`);
    }
    const report = await inspect({ all, netns: g.netns });
    if (g.json || p.values.json) {
      console.log(JSON.stringify(report, null, 2));
      return 0;
    }
    if (width === undefined) {
      width = 80;
      try {
        if (Deno.stdout.isTerminal()) width = Math.max(60, Deno.consoleSize().columns);
      } catch { /* not a terminal */ }
    }
    console.log(formatInspect(report, width, all));
    return 0;
  },
};
