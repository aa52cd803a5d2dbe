/**
 * `graft daemon` as a process: claim the socket, serve until SIGINT/SIGTERM,
 * and turn start-up failures into one-line errors.
 *
 * @module
 */

import { GraftError } from "../model/errors.ts";
import { SysError } from "../sys/ffi.ts";
import { attachSeccomp, seccompSocketFor } from "./seccomp/service.ts";
import { Broker } from "./server.ts";

/** How to run the daemon. */
export interface DaemonOptions {
  /** Socket path to listen on. */
  socketPath: string;
  /** Log every request, not only start, stop and trouble. */
  verbose?: boolean;
  /** Where seccomp listeners are handed over (default: beside the socket, graft.seccomp.sock). */
  seccompSocket?: string;
}

/** Run the broker until a signal stops it; returns the exit status. */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  if (Deno.uid() !== 0) {
    throw new GraftError("graft daemon needs root (it creates sockets in other namespaces)");
  }
  const gcMs = Number(Deno.env.get("GRAFT_GC_MS") ?? "10000");
  const broker = new Broker({
    socketPath: opts.socketPath,
    gcMs: Number.isFinite(gcMs) && gcMs > 0 ? gcMs : 10_000,
    maxClients: Number(Deno.env.get("GRAFT_MAX_CLIENTS") ?? "") || undefined,
    log: (line) => console.error(`graft daemon: ${line}`),
    verbose: opts.verbose,
  });
  try {
    broker.listen();
  } catch (e) {
    if (e instanceof SysError && e.code === "EADDRINUSE") {
      throw new GraftError(
        `a broker is already listening on ${opts.socketPath} (stop it, or use --socket)`,
      );
    }
    throw new GraftError(`cannot listen on ${opts.socketPath}: ${(e as Error).message}`);
  }
  const seccompPath = opts.seccompSocket ?? seccompSocketFor(opts.socketPath);
  try {
    attachSeccomp(broker, seccompPath, (l) => console.error(`graft daemon: ${l}`), !!opts.verbose);
  } catch (e) {
    broker.stop();
    await broker.serve();
    throw new GraftError(`cannot listen on ${seccompPath}: ${(e as Error).message}`);
  }
  const stop = () => broker.stop();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
  await broker.serve();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(sig, stop);
  return 0;
}
