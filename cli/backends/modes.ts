/**
 * Conversion engines for `graft run --mode auto|preload|seccomp`: which one a
 * program gets, and how the seccomp one is started (graft-exec in front of
 * the program, no LD_PRELOAD).
 *
 * `auto` keeps LD_PRELOAD for ordinary dynamic programs and picks seccomp
 * for what the loader cannot convert: static and Go binaries, set-id and
 * file-capability ones. Seccomp needs the broker (it is the supervisor) and
 * an administrator's launcher (the broker takes listeners from no one else).
 *
 * @module
 */

import { brokerSocketPath } from "../broker/client.ts";
import { seccompSocketFor } from "../broker/seccomp/service.ts";
import { UsageError } from "../model/errors.ts";
import {
  type EgressMapping,
  formatEgress,
  formatIngress,
  type IngressMapping,
} from "../model/mapping.ts";
import { inspectProgram, preloadBlocker, resolveCommand } from "../sys/elf.ts";
import { GRAFT_EXEC } from "./helper_file.ts";

/** What `--mode` asks for. */
export type ModeChoice = "auto" | "preload" | "seccomp";

/** The engine a program gets, and a line to tell the user (a note, or a warning). */
export interface ModeDecision {
  /** The engine. */
  mode: "preload" | "seccomp";
  /** One line for stderr, when there is something to say. */
  message?: string;
}

/** Environment: the broker's seccomp socket (graft-exec itself: GRAFT_EXEC in helper_file.ts). */
export const EXEC_ENV = { SOCKET: "GRAFT_SECCOMP_SOCKET" } as const;

/** Check a `--mode` word. */
export function parseMode(word: string): ModeChoice {
  if (word === "auto" || word === "preload" || word === "seccomp") return word;
  throw new UsageError(`unknown mode "${word}" (auto, preload or seccomp)`);
}

/**
 * Decide the engine for `cmd`. `canSeccomp` says why seccomp is out of
 * reach (undefined when it is available).
 */
export function decideMode(
  cmd: string,
  requested: ModeChoice,
  canSeccomp: string | undefined,
  verbose = false,
): ModeDecision {
  if (requested === "seccomp") return { mode: "seccomp" };
  const file = resolveCommand(cmd);
  const blocker = file ? preloadBlocker(inspectProgram(file)) : undefined;
  if (!blocker) {
    return { mode: "preload", message: verbose ? `${cmd}: grafting with LD_PRELOAD` : undefined };
  }
  if (requested === "preload") {
    return {
      mode: "preload",
      message: `warning: ${cmd} is ${blocker}: LD_PRELOAD will not graft its sockets; ` +
        `use --mode seccomp (or --mode auto)`,
    };
  }
  if (canSeccomp) {
    return {
      mode: "preload",
      message: `warning: ${cmd} is ${blocker}: its sockets will not be grafted ` +
        `(LD_PRELOAD cannot reach it, and seccomp mode ${canSeccomp})`,
    };
  }
  return { mode: "seccomp", message: `${cmd} is ${blocker}: grafting it with seccomp` };
}

/** Why seccomp mode is out of reach here, or undefined when it is available. */
export function seccompUnavailable(backend: "kernel" | "broker"): string | undefined {
  if (backend !== "broker") return "needs the broker backend";
  if (Deno.uid() !== 0) return "needs root (the broker supervises administrators' programs only)";
  return undefined;
}

/** The broker's seccomp socket: GRAFT_SECCOMP_SOCKET, or the one beside the broker socket. */
export function seccompSocketPath(): string {
  return Deno.env.get(EXEC_ENV.SOCKET) || seccompSocketFor(brokerSocketPath());
}

/** The mappings as listener metadata: "-i 0.0.0.0:80=web -e 0.0.0.0/0=out" (and "--names host"). */
export function mappingMetadata(
  ingress: IngressMapping[],
  egress: EgressMapping[],
  names: "program" | "host" = "program",
): string {
  return [
    ...ingress.map((m) => `-i ${formatIngress(m)}`),
    ...egress.map((m) => `-e ${formatEgress(m)}`),
    ...(names === "host" ? ["--names host"] : []),
  ].join(" ");
}

/** What else the filter traps, besides bind/connect/send*. */
export interface SeccompTraps {
  /** What getsockname() shows on a socket grafted by bind() (default: the program's view). */
  names?: "program" | "host";
  /** Some ingress mapping targets a Unix endpoint (accept() and getpeername() to translate). */
  unixIngress?: boolean;
}

/**
 * The command line that runs `cmd` under graft-exec. getsockname() is trapped
 * only where it shows something else than the kernel would (ingress mappings,
 * the program's view), accept()/getpeername() only for Unix endpoints.
 */
export function seccompCommand(
  cmd: string[],
  ingress: IngressMapping[],
  egress: EgressMapping[],
  traps: SeccompTraps = {},
): string[] {
  const names = ingress.length > 0 && (traps.names !== "host" || traps.unixIngress);
  return [
    GRAFT_EXEC.path(),
    "--socket",
    seccompSocketPath(),
    "--metadata",
    mappingMetadata(ingress, egress, traps.names),
    ...(names ? ["--trap", "names"] : []),
    ...(traps.unixIngress ? ["--trap", "accept"] : []),
    "--",
    ...cmd,
  ];
}
