/**
 * `graft run`: start a program with its sockets grafted.
 *
 * @module
 */

import { spawnGrafted } from "../api/endpoints.ts";
import { waitForwarding } from "../backends/launcher.ts";
import { UsageError } from "../model/errors.ts";
import {
  type EgressMapping,
  type IngressMapping,
  parseEgress,
  parseIngress,
} from "../model/mapping.ts";
import { type ModeChoice, parseMode } from "../backends/modes.ts";
import { type Command, list, parseOptions, str } from "./options.ts";

const USAGE =
  "graft run [--mode auto|preload|seccomp] [--names program|host] [-v] [-i ADDR:PORT[-PORT]=EP]... " +
  "[-e PREFIX/LEN=EP]... -- CMD [ARG...]";

/** Parsed `graft run` arguments. */
export interface RunArgs {
  /** -v. */
  verbose: boolean;
  /** --mode: the conversion engine. */
  mode: ModeChoice;
  /** -i mappings. */
  ingress: IngressMapping[];
  /** -e mappings. */
  egress: EgressMapping[];
  /** --names: what getsockname() shows on a socket grafted by bind(). */
  names: "program" | "host";
  /** The command. */
  cmd: string[];
}

/** Parse the words after `graft run`. */
export function parseRunArgs(args: string[]): RunArgs {
  const p = parseOptions(
    {
      verbose: { long: "verbose", short: "v" },
      mode: { long: "mode", short: "m", value: "auto, preload or seccomp" },
      ingress: { long: "ingress", short: "i", value: "a mapping" },
      egress: { long: "egress", short: "e", value: "a mapping" },
      names: { long: "names", value: "program|host" },
    },
    args,
    { command: "run", usage: USAGE, stopAtWord: true, lists: ["ingress", "egress"] },
  );
  if (p.words.length === 0) {
    throw new UsageError("graft run: no command given (graft run ... -- CMD)");
  }
  const names = p.values.names ?? "program";
  if (names !== "program" && names !== "host") {
    throw new UsageError(`graft run: --names is "program" or "host", not "${names}"`);
  }
  return {
    names,
    verbose: p.values.verbose === true,
    mode: parseMode(str(p, "mode") ?? "auto"),
    ingress: list(p, "ingress").map(parseIngress),
    egress: list(p, "egress").map(parseEgress),
    cmd: p.words,
  };
}

/** `graft run`. */
export const runCommand: Command = {
  usage: USAGE,
  async run(g, args) {
    const r = parseRunArgs(args);
    const child = spawnGrafted(r.cmd, {
      netns: g.netns,
      backend: g.backend,
      ingress: r.ingress,
      egress: r.egress,
      verbose: r.verbose,
      names: r.names,
      mode: r.mode,
      onMode: (d) => d.message && console.error(`graft: ${d.message}`),
    });
    return await waitForwarding(child);
  },
};
