/**
 * The `graft` command line: a thin layer over the library in this directory.
 *
 * @module
 */

import { addEndpoint, deleteEndpoint, listEndpoints, spawnGrafted } from "./api.ts";
import type { BackendChoice } from "./backend.ts";
import { Broker } from "./broker.ts";
import { brokerSocketPath } from "./broker_client.ts";
import { formatEndpoint, parseEndpointWords, validateName } from "./endpoint.ts";
import { GraftError, UsageError } from "./errors.ts";
import { SysError } from "./ffi.ts";
import { type EgressMapping, type IngressMapping, parseEgress, parseIngress } from "./mapping.ts";
import { preloadPath, setPreloadPath, waitForwarding } from "./run.ts";
import { embeddedPreload, preloadVersion } from "./embedded.ts";
import { cmdApply, cmdExport } from "./apply.ts";
import { cmdInspect } from "./inspect.ts";
import { kernelAvailable } from "./kernel_backend.ts";
import { VERSION } from "./version.ts";

const USAGE = `usage: graft [-n NETNS] [--backend auto|kernel|broker] [-j|--json] COMMAND ...

commands:
  ep add NAME type ipv4|ipv6 addr ADDR port PORT|dynamic [netns NETNS]
  ep add NAME type unix path PATH [netns NETNS]
  ep del NAME
  ep show [NAME]
  run [-v] [-i ADDR:PORT[-PORT]=EP]... [-e PREFIX/LEN=EP]... -- CMD [ARG...]
  daemon [--socket PATH] [-v]
  inspect [--all] [--width N]
  apply -f FILE.yaml [--prune] [--dry-run]
  export
  version

NETNS is a name under /run/netns, a PID, or a path to a namespace file.
The broker listens on ${"$"}GRAFT_SOCKET or /run/graft/graft.sock.`;

/** Options that come before the command. */
export interface GlobalOptions {
  /** -n NETNS. */
  netns?: string;
  /** --backend. */
  backend: BackendChoice;
  /** -j / --json. */
  json: boolean;
}

/** Split global options from the command and its arguments. */
export function parseGlobals(argv: string[]): { globals: GlobalOptions; rest: string[] } {
  const globals: GlobalOptions = { backend: "auto", json: false };
  let i = 0;
  const value = (flag: string) => {
    if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-n" || a === "--netns") globals.netns = value(a);
    else if (a.startsWith("--netns=")) globals.netns = a.slice(8);
    else if (a === "--backend" || a === "-b") globals.backend = value(a) as BackendChoice;
    else if (a.startsWith("--backend=")) globals.backend = a.slice(10) as BackendChoice;
    else if (a === "-j" || a === "--json") globals.json = true;
    else if (a === "-h" || a === "--help") return { globals, rest: ["help"] };
    else if (a === "-V" || a === "--version") return { globals, rest: ["version"] };
    else if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown option "${a}"`);
    else break;
  }
  if (!["auto", "kernel", "broker"].includes(globals.backend)) {
    throw new UsageError(`unknown backend "${globals.backend}" (auto, kernel or broker)`);
  }
  return { globals, rest: argv.slice(i) };
}

/** Parsed `graft run` arguments. */
export interface RunArgs {
  /** -v. */
  verbose: boolean;
  /** -i mappings. */
  ingress: IngressMapping[];
  /** -e mappings. */
  egress: EgressMapping[];
  /** The command. */
  cmd: string[];
}

/** Parse the words after `graft run`. */
export function parseRunArgs(args: string[]): RunArgs {
  const out: RunArgs = { verbose: false, ingress: [], egress: [], cmd: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      i++;
      break;
    }
    if (a === "-v" || a === "--verbose") out.verbose = true;
    else if (a === "-i" || a === "-e") {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a mapping`);
      const m = args[++i];
      if (a === "-i") out.ingress.push(parseIngress(m));
      else out.egress.push(parseEgress(m));
    } else if (a.startsWith("-i") && a.length > 2) out.ingress.push(parseIngress(a.slice(2)));
    else if (a.startsWith("-e") && a.length > 2) out.egress.push(parseEgress(a.slice(2)));
    else if (a.startsWith("-")) throw new UsageError(`unknown run option "${a}"`);
    else break;
  }
  out.cmd = args.slice(i);
  if (out.cmd.length === 0) {
    throw new UsageError("graft run: no command given (graft run ... -- CMD)");
  }
  return out;
}

function print(line: string): void {
  console.log(line);
}

function cmdEp(g: GlobalOptions, args: string[]): number {
  const sub = args[0];
  const where = { netns: g.netns, backend: g.backend };
  switch (sub) {
    case "add":
      addEndpoint(parseEndpointWords(args.slice(1)), where);
      return 0;
    case "del":
    case "delete":
      if (args.length !== 2) throw new UsageError("usage: graft ep del NAME");
      deleteEndpoint(validateName(args[1]), where);
      return 0;
    case "show":
    case "list":
    case undefined: {
      if (args.length > 2) throw new UsageError("usage: graft ep show [NAME]");
      let eps = listEndpoints(where);
      if (args[1] !== undefined) {
        eps = eps.filter((e) => e.name === args[1]);
        if (eps.length === 0) throw new GraftError(`no endpoint "${args[1]}" here`);
      }
      if (g.json) print(JSON.stringify(eps, null, 2));
      else for (const e of eps) print(formatEndpoint(e));
      return 0;
    }
    default:
      throw new UsageError(`unknown ep command "${sub}" (add, del, show)`);
  }
}

async function cmdRun(g: GlobalOptions, args: string[]): Promise<number> {
  const r = parseRunArgs(args);
  const child = spawnGrafted(r.cmd, {
    netns: g.netns,
    backend: g.backend,
    ingress: r.ingress,
    egress: r.egress,
    verbose: r.verbose,
  });
  return await waitForwarding(child);
}

async function cmdDaemon(g: GlobalOptions, args: string[]): Promise<number> {
  let socketPath = brokerSocketPath();
  let verbose = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--socket" || args[i] === "-s") {
      if (i + 1 >= args.length) throw new UsageError("--socket needs a path");
      socketPath = args[++i];
    } else if (args[i].startsWith("--socket=")) socketPath = args[i].slice(9);
    else if (args[i] === "-v" || args[i] === "--verbose") verbose = true;
    else throw new UsageError(`unknown daemon option "${args[i]}"`);
  }
  if (g.netns !== undefined) throw new UsageError("graft daemon serves every namespace; drop -n");
  if (Deno.uid() !== 0) {
    throw new GraftError("graft daemon needs root (it creates sockets in other namespaces)");
  }
  const gcMs = Number(Deno.env.get("GRAFT_GC_MS") ?? "10000");
  const broker = new Broker({
    socketPath,
    gcMs: Number.isFinite(gcMs) && gcMs > 0 ? gcMs : 10_000,
    maxClients: Number(Deno.env.get("GRAFT_MAX_CLIENTS") ?? "") || undefined,
    log: (line) => console.error(`graft daemon: ${line}`),
    verbose,
  });
  try {
    broker.listen();
  } catch (e) {
    if (e instanceof SysError && e.code === "EADDRINUSE") {
      throw new GraftError(
        `a broker is already listening on ${socketPath} (stop it, or use --socket)`,
      );
    }
    throw new GraftError(`cannot listen on ${socketPath}: ${(e as Error).message}`);
  }
  const stop = () => broker.stop();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
  await broker.serve();
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(sig, stop);
  return 0;
}

async function cmdVersion(g: GlobalOptions): Promise<number> {
  let preload: string | undefined;
  let preloadFile: string | undefined;
  try {
    preloadFile = preloadPath();
    preload = preloadVersion(await Deno.readFile(preloadFile));
  } catch { /* not built */ }
  let kernel: string | undefined;
  if (kernelAvailable()) {
    try {
      kernel = Deno.readTextFileSync("/sys/module/af_graft/version").trim();
    } catch {
      kernel = "loaded (no version)";
    }
  }
  if (g.json) {
    print(
      JSON.stringify({
        graft: VERSION,
        preload: preload ?? null,
        preloadFile: preloadFile ?? null,
        kernel: kernel ?? null,
      }),
    );
  } else {
    print(`graft ${VERSION}`);
    print(`libgraft.so ${preload ?? "not found"}${preloadFile ? ` (${preloadFile})` : ""}`);
    print(`af_graft.ko ${kernel ?? "not loaded"}`);
  }
  return 0;
}

/** Run the command line; returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    const { globals, rest } = parseGlobals(argv);
    const embedded = await embeddedPreload();
    if (embedded) setPreloadPath(embedded);
    const [cmd, ...args] = rest;
    switch (cmd) {
      case "ep":
      case "endpoint":
        return cmdEp(globals, args);
      case "run":
        return await cmdRun(globals, args);
      case "daemon":
        return await cmdDaemon(globals, args);
      case "inspect":
        return await cmdInspect(globals, args);
      case "apply":
        return cmdApply(globals, args);
      case "export":
        return cmdExport(globals, args);
      case "version":
        return await cmdVersion(globals);
      case "help":
        print(USAGE);
        return 0;
      case undefined:
        console.error(USAGE);
        return 2;
      default:
        throw new UsageError(`unknown command "${cmd}"; see graft --help`);
    }
  } catch (e) {
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
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
