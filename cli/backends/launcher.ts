/**
 * The launcher: start an unmodified program with libgraft.so preloaded and
 * the conversion mappings in its environment, optionally inside a namespace.
 *
 * @module
 */

import type { EndpointBackend } from "./backend.ts";
import { brokerSocketPath } from "../broker/client.ts";
import { ENV as PRELOAD_ENV } from "../model/contract_gen.ts";
import { GraftError } from "../model/errors.ts";
import {
  type EgressMapping,
  formatEgress,
  formatIngress,
  type IngressMapping,
} from "../model/mapping.ts";
import { withNetns } from "../sys/netns.ts";
import { LIBGRAFT } from "./helper_file.ts";
import { seccompCommand } from "./modes.ts";

/**
 * Environment variable names: those the preload library reads come from
 * preload/graft_env.h (through cli/model/contract_gen.ts); a test checks
 * every one of them appears here.
 */
export const ENV = {
  PRELOAD: "LD_PRELOAD",
  INGRESS: PRELOAD_ENV.GRAFT_ENV_INGRESS,
  EGRESS: PRELOAD_ENV.GRAFT_ENV_EGRESS,
  VERBOSE: PRELOAD_ENV.GRAFT_ENV_VERBOSE,
  SOCKET: PRELOAD_ENV.GRAFT_ENV_SOCKET,
  BACKEND: PRELOAD_ENV.GRAFT_ENV_BACKEND,
  POOL: PRELOAD_ENV.GRAFT_ENV_POOL,
  NAMES: PRELOAD_ENV.GRAFT_ENV_NAMES,
} as const;

/** What to launch and how to convert its sockets. */
export interface LaunchOptions {
  /** The program and its arguments. */
  cmd: string[];
  /** `-i` mappings. */
  ingress?: IngressMapping[];
  /** `-e` mappings. */
  egress?: EgressMapping[];
  /** Print the environment and let the preload trace its conversions. */
  verbose?: boolean;
  /** false: no stock of pre-bound client sockets in the preload (GRAFT_POOL=0). */
  pool?: boolean;
  /** What getsockname() shows on a socket grafted by bind(): the address and
   * port the program bound (default) or the host endpoint's. */
  names?: "program" | "host";
  /** Descriptor of the namespace to start the program in (default: ours). */
  netnsFd?: number;
  /** Seccomp mode: some ingress mapping targets a Unix endpoint. */
  unixIngress?: boolean;
  /** Which backend the preload should graft through. */
  backend: "kernel" | "broker";
  /** The conversion engine: LD_PRELOAD (default) or seccomp (graft-exec in front, the broker supervising). */
  mode?: "preload" | "seccomp";
  /** Extra environment for the program. */
  env?: Record<string, string>;
  /** stdio of the child; defaults to "inherit". */
  stdin?: "inherit" | "null" | "piped";
  /** stdout of the child. */
  stdout?: "inherit" | "null" | "piped";
  /** stderr of the child. */
  stderr?: "inherit" | "null" | "piped";
}

/** The environment a grafted program gets. */
export function graftEnv(opts: LaunchOptions): Record<string, string> {
  const lib = LIBGRAFT.path();
  const existing = opts.env?.[ENV.PRELOAD] ?? Deno.env.get(ENV.PRELOAD);
  const env: Record<string, string> = {
    ...opts.env,
    // Prepend: keep whatever the user already preloads.
    [ENV.PRELOAD]: existing ? `${lib} ${existing}` : lib,
    [ENV.INGRESS]: (opts.ingress ?? []).map(formatIngress).join(" "),
    [ENV.EGRESS]: (opts.egress ?? []).map(formatEgress).join(" "),
    [ENV.BACKEND]: opts.backend,
    [ENV.SOCKET]: brokerSocketPath(),
  };
  if (opts.verbose) env[ENV.VERBOSE] = "1";
  if (opts.pool === false) env[ENV.POOL] = "0";
  if (opts.names) env[ENV.NAMES] = opts.names;
  return env;
}

/**
 * Check that every endpoint the mappings name is defined where the program
 * will run, so a typo is one clear line instead of a failing bind later.
 */
export function checkEndpoints(
  backend: EndpointBackend,
  opts: LaunchOptions,
  where: string,
): void {
  const names = new Set([...(opts.ingress ?? []), ...(opts.egress ?? [])].map((m) => m.ep));
  if (names.size === 0) return;
  const defined = new Set(backend.list({ netnsFd: opts.netnsFd }).map((e) => e.name));
  for (const n of names) {
    if (!defined.has(n)) {
      throw new GraftError(
        `endpoint "${n}" is not defined in ${where}: add it with "graft ep add ${n} ..."`,
      );
    }
  }
}

/** Start a grafted program. The caller waits on the returned child. */
export function launch(opts: LaunchOptions): Deno.ChildProcess {
  if (opts.cmd.length === 0) throw new GraftError("no command to run", 2);
  const seccomp = opts.mode === "seccomp";
  const env = seccomp ? { ...opts.env } : graftEnv(opts);
  const argv = seccomp
    ? seccompCommand(opts.cmd, opts.ingress ?? [], opts.egress ?? [], {
      names: opts.names,
      unixIngress: opts.unixIngress,
    })
    : opts.cmd;
  if (opts.verbose && seccomp) console.error(argv.map((a) => JSON.stringify(a)).join(" "));
  if (opts.verbose && !seccomp) {
    for (const k of Object.values(ENV)) {
      if (env[k] === undefined) continue;
      console.error(`${k}=${env[k] ?? ""}`);
    }
  }
  const command = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    stdin: opts.stdin ?? "inherit",
    stdout: opts.stdout ?? "inherit",
    stderr: opts.stderr ?? "inherit",
  });
  try {
    // The child inherits the namespace of the thread that forks it: this one.
    return withNetns(opts.netnsFd, () => command.spawn());
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new GraftError(`${opts.cmd[0]}: command not found`, 1);
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new GraftError(`${opts.cmd[0]}: permission denied`, 1);
    }
    throw e;
  }
}

/** Wait for a launched program, forwarding SIGINT/SIGTERM/SIGHUP; returns its exit status. */
export async function waitForwarding(child: Deno.ChildProcess): Promise<number> {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const handlers = signals.map((sig) => {
    const h = () => {
      try {
        child.kill(sig);
      } catch { /* already gone */ }
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  try {
    const status = await child.status;
    if (status.signal) {
      const num = Deno.build.os === "linux" ? signalNumber(status.signal) : 0;
      return 128 + num;
    }
    return status.code;
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  }
}

function signalNumber(sig: Deno.Signal): number {
  const table: Partial<Record<Deno.Signal, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGABRT: 6,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGTERM: 15,
  };
  return table[sig] ?? 0;
}
