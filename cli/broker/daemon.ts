/**
 * `graft daemon` as a process and a service: claim the socket (or take the
 * one systemd passes), load the state file, tell systemd it is ready, serve
 * until SIGINT/SIGTERM, reload the state on SIGHUP; log one line per event
 * with a level. Start-up failures become one-line errors.
 *
 * @module
 */

import { GraftError, printable } from "../model/errors.ts";
import { closeFd, SysError } from "../sys/ffi.ts";
import { listenFds, sdNotify } from "../sys/systemd.ts";
import { attachSeccomp, seccompSocketFor } from "./seccomp/service.ts";
import { Broker, type LogLevel } from "./server.ts";
import { describeRef, openRef, readState, type State } from "./state.ts";
import { DEFAULT_SOCKET } from "./proto.ts";

/** The system's state file, for the broker on the default socket. */
export const DEFAULT_STATE = "/var/lib/graft/state.json";

/**
 * The state file of a broker on `socketPath`: the system's for the default
 * socket, else one beside the socket (a test's or a private broker never
 * shares, or overwrites, the system's endpoints).
 */
export function defaultStatePath(socketPath: string): string {
  return socketPath === DEFAULT_SOCKET ? DEFAULT_STATE : `${socketPath}.state.json`;
}

/** How to run the daemon. */
export interface DaemonOptions {
  /** Socket path to listen on (with socket activation: the path of the passed socket). */
  socketPath: string;
  /** The state file; "" for none. */
  statePath: string;
  /** Log every request, not only start, stop and trouble. */
  verbose?: boolean;
  /** Where seccomp listeners are handed over (default: beside the socket, graft.seccomp.sock). */
  seccompSocket?: string;
  /** How long to poll for the next request before blocking, in µs (BrokerOptions.spinUs). */
  spinUs?: number;
}

const PRIORITY: Record<LogLevel, number> = { error: 3, warning: 4, info: 6, debug: 7 };

/**
 * One log line on stderr. Under systemd (JOURNAL_STREAM set) with the
 * journal's `<N>` priority prefix; elsewhere as `graft daemon: LEVEL: ...`.
 */
export function logLine(line: string, level: LogLevel = "info"): void {
  const text = printable(line);
  if (Deno.env.get("JOURNAL_STREAM")) console.error(`<${PRIORITY[level]}>${text}`);
  else console.error(`graft daemon: ${level}: ${text}`);
}

function claim(broker: Broker, socketPath: string): void {
  try {
    broker.listen();
  } catch (e) {
    if (e instanceof GraftError) throw e; // says what is missing (libgraft-native.so)
    if (e instanceof SysError && e.code === "EADDRINUSE") {
      throw new GraftError(
        `a broker is already listening on ${socketPath} (stop it, or use --socket)`,
      );
    }
    throw new GraftError(`cannot listen on ${socketPath}: ${(e as Error).message}`);
  }
}

/** Run the broker until a signal stops it; returns the exit status. */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  if (Deno.uid() !== 0) {
    throw new GraftError("graft daemon needs root (it creates sockets in other namespaces)");
  }
  const passed = listenFds();
  if (passed.length > 1) {
    throw new GraftError(`socket activation passed ${passed.length} sockets; graft.socket has one`);
  }
  const gcMs = Number(Deno.env.get("GRAFT_GC_MS") ?? "10000");
  const broker = new Broker({
    socketPath: opts.socketPath,
    statePath: opts.statePath || undefined,
    listenFd: passed[0],
    gcMs: Number.isFinite(gcMs) && gcMs > 0 ? gcMs : 10_000,
    maxClients: Number(Deno.env.get("GRAFT_MAX_CLIENTS") ?? "") || undefined,
    log: logLine,
    verbose: opts.verbose,
    spinUs: opts.spinUs,
  });
  claim(broker, opts.socketPath);
  const seccompPath = opts.seccompSocket ?? seccompSocketFor(opts.socketPath);
  try {
    attachSeccomp(broker, seccompPath, (l) => logLine(l), !!opts.verbose);
  } catch (e) {
    broker.stop();
    await broker.serve();
    throw new GraftError(`cannot listen on ${seccompPath}: ${(e as Error).message}`);
  }
  notify("READY=1\nSTATUS=serving");
  const stop = () => {
    notify("STOPPING=1");
    broker.stop();
  };
  const reload = () => {
    notify("RELOADING=1");
    broker.reload();
    notify("READY=1\nSTATUS=serving");
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
  Deno.addSignalListener("SIGHUP", reload);
  await broker.serve();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(sig, stop);
  Deno.removeSignalListener("SIGHUP", reload);
  return 0;
}

function notify(state: string): void {
  try {
    sdNotify(state);
  } catch (e) {
    logLine(`cannot notify the service manager: ${(e as Error).message}`, "warning");
  }
}

/** What `graft daemon --check` found. */
export interface CheckResult {
  /** The file. */
  path: string;
  /** False when the file cannot be used (then `error` says why). */
  valid: boolean;
  /** Why not. */
  error?: string;
  /** True when there is no file (a first start). */
  missing?: boolean;
  /** Per namespace: how it is found, its endpoints, and whether it can be found now. */
  namespaces: { ns: string; endpoints: string[]; found: boolean; why?: string }[];
}

/** Validate a state file and say what a start would restore (opens, never changes anything). */
export function checkState(path: string): CheckResult {
  let state: State | undefined;
  try {
    state = readState(path);
  } catch (e) {
    return { path, valid: false, error: (e as Error).message, namespaces: [] };
  }
  if (!state) return { path, valid: true, missing: true, namespaces: [] };
  return {
    path,
    valid: true,
    namespaces: state.namespaces.map((n) => {
      const fd = openRef(n.ns);
      if (typeof fd === "number") closeFd(fd);
      return {
        ns: describeRef(n.ns),
        endpoints: n.endpoints.map((e) => e.endpoint.name),
        found: typeof fd === "number",
        ...(typeof fd === "string" ? { why: fd } : {}),
      };
    }),
  };
}
