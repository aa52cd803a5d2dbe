/**
 * `graft daemon`: the broker.
 *
 * @module
 */

import { brokerSocketPath } from "../broker/client.ts";
import { checkState, defaultStatePath, runDaemon } from "../broker/daemon.ts";
import { SPIN_US_MAX } from "../broker/server.ts";
import { GraftError, UsageError } from "../model/errors.ts";
import { type Command, type GlobalOptions, parseOptions, str } from "./options.ts";

const USAGE = "graft daemon [--socket PATH] [--state PATH|none] [--seccomp-socket PATH] " +
  "[--spin-us N] [--check] [-v]";

function check(g: GlobalOptions, path: string): number {
  const r = checkState(path);
  if (g.json) {
    console.log(JSON.stringify(r, null, 2));
  } else if (!r.valid) {
    console.error(`graft: state file ${path} is unusable: ${r.error}`);
  } else if (r.missing) {
    console.log(`${path}: no state file (a first start begins empty)`);
  } else {
    const eps = r.namespaces.reduce((n, ns) => n + ns.endpoints.length, 0);
    console.log(`${path}: valid, ${eps} endpoint(s) in ${r.namespaces.length} namespace(s)`);
    for (const ns of r.namespaces) {
      const state = ns.found ? "found" : `would be dropped: ${ns.why}`;
      console.log(`  ${ns.ns}: ${ns.endpoints.join(" ")} (${state})`);
    }
  }
  return r.valid ? 0 : 1;
}

/** --spin-us: 0 (never spin) to SPIN_US_MAX microseconds; undefined: the default. */
function spinUs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!(n <= SPIN_US_MAX)) {
    throw new UsageError(`--spin-us wants 0 to ${SPIN_US_MAX} (microseconds), not "${v}"`);
  }
  return n;
}

/** `graft daemon`. */
export const daemonCommand: Command = {
  usage: USAGE,
  async run(g, args) {
    const p = parseOptions(
      {
        socket: { long: "socket", short: "s", value: "a path" },
        state: { long: "state", value: "a path (or none)" },
        seccompSocket: { long: "seccomp-socket", value: "a path" },
        spinUs: { long: "spin-us", value: "microseconds" },
        check: { long: "check" },
        verbose: { long: "verbose", short: "v" },
      },
      args,
      { command: "daemon", usage: USAGE },
    );
    if (p.words.length) throw new UsageError(`unexpected "${p.words[0]}"; usage: ${USAGE}`);
    if (g.netns !== undefined) throw new UsageError("graft daemon serves every namespace; drop -n");
    const socketPath = str(p, "socket") ?? brokerSocketPath();
    const state = str(p, "state") ?? defaultStatePath(socketPath);
    if (state === "") throw new UsageError("--state needs a path (or none)");
    if (p.values.check) {
      if (state === "none") throw new GraftError("--check needs a state file, not none", 2);
      return check(g, state);
    }
    return await runDaemon({
      socketPath,
      statePath: state === "none" ? "" : state,
      verbose: p.values.verbose === true,
      seccompSocket: str(p, "seccompSocket"),
      spinUs: spinUs(str(p, "spinUs")),
    });
  },
};
