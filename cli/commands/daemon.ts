/**
 * `graft daemon`: the broker.
 *
 * @module
 */

import { brokerSocketPath } from "../broker/client.ts";
import { runDaemon } from "../broker/daemon.ts";
import { UsageError } from "../model/errors.ts";
import { type Command, parseOptions, str } from "./options.ts";

const USAGE = "graft daemon [--socket PATH] [--seccomp-socket PATH] [-v]";

/** `graft daemon`. */
export const daemonCommand: Command = {
  usage: USAGE,
  async run(g, args) {
    const p = parseOptions(
      {
        socket: { long: "socket", short: "s", value: "a path" },
        seccompSocket: { long: "seccomp-socket", value: "a path" },
        verbose: { long: "verbose", short: "v" },
      },
      args,
      { command: "daemon", usage: USAGE },
    );
    if (p.words.length) throw new UsageError(`unexpected "${p.words[0]}"; usage: ${USAGE}`);
    if (g.netns !== undefined) throw new UsageError("graft daemon serves every namespace; drop -n");
    return await runDaemon({
      socketPath: str(p, "socket") ?? brokerSocketPath(),
      verbose: p.values.verbose === true,
      seccompSocket: str(p, "seccompSocket"),
    });
  },
};
