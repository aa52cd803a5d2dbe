/**
 * The `graft` command line: a table of commands (cli/commands/, one file
 * each) over the library (cli/api/).
 *
 * @module
 */

import { GraftError, UsageError } from "./model/errors.ts";
import { SysError } from "./sys/ffi.ts";
import { locateNativeWith } from "./sys/native.ts";
import { NATIVE } from "./backends/helper_file.ts";
import { applyCommand } from "./commands/apply.ts";
import { daemonCommand } from "./commands/daemon.ts";
import { epCommand } from "./commands/ep.ts";
import { exportCommand } from "./commands/export.ts";
import { inspectCommand } from "./commands/inspect.ts";
import { mapCommand } from "./commands/map.ts";
import { ociHookCommand } from "./commands/oci_hook.ts";
import { cniCommand } from "./commands/cni.ts";
import { type Command, HelpRequested, parseGlobals } from "./commands/options.ts";
import { runCommand } from "./commands/run.ts";
import { statusCommand } from "./commands/status.ts";
import { versionCommand } from "./commands/version.ts";

/** Every command, by name (aliases point at the same entry). */
export const COMMANDS: Record<string, Command> = {
  ep: epCommand,
  endpoint: epCommand,
  run: runCommand,
  map: mapCommand,
  daemon: daemonCommand,
  status: statusCommand,
  inspect: inspectCommand,
  apply: applyCommand,
  export: exportCommand,
  version: versionCommand,
  "oci-hook": ociHookCommand,
  cni: cniCommand,
};

const SHOWN = [
  "ep",
  "run",
  "map",
  "daemon",
  "status",
  "inspect",
  "apply",
  "export",
  "oci-hook",
  "cni",
  "version",
];

/** The whole usage text, built from the table. */
export function usage(): string {
  const lines = SHOWN.flatMap((name) =>
    COMMANDS[name].usage.split("\n").map((l) => `  ${l.trim().replace(/^graft (\[.*?\] )*/, "")}`)
  );
  return `usage: graft [-n NETNS] [--backend auto|kernel|broker] [-j|--json] COMMAND ...

commands:
${lines.join("\n")}

NETNS is a name under /run/netns, a PID, or a path to a namespace file.
The broker listens on ${"$"}GRAFT_SOCKET or /run/graft/graft.sock.`;
}

/** One line on stderr for a failure, and its exit status. */
function report(e: unknown): number {
  if (e instanceof GraftError) {
    console.error(`graft: ${e.message}`);
    return e.exitCode;
  }
  if (e instanceof SysError) {
    // A system call refused what we asked (usually a permission): say which, in one line.
    const hint = e.code === "EPERM" || e.code === "EACCES" ? " (are you root?)" : "";
    console.error(`graft: ${e.message}${hint}`);
    return 1;
  }
  console.error(`graft: internal error: ${(e as Error).message}`);
  if (Deno.env.get("GRAFT_DEBUG")) console.error((e as Error).stack);
  return 1;
}

/** Run the command line; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    const { globals, rest } = parseGlobals(argv);
    // The broker's library: GRAFT_NATIVE, else a compiled graft's own copy, else the build.
    locateNativeWith(() => NATIVE.path());
    const [name, ...args] = rest;
    if (name === "help") {
      console.log(usage());
      return 0;
    }
    if (name === undefined) {
      console.error(usage());
      return 2;
    }
    const cmd = COMMANDS[name];
    if (!cmd) throw new UsageError(`unknown command "${name}"; see graft --help`);
    return await cmd.run(globals, args);
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.log(`usage: ${e.usage}`);
      return 0;
    }
    return report(e);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
