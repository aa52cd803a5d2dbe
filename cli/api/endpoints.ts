/**
 * The library API: what the command line does, as functions. The CLI in
 * main.ts is a thin layer over these.
 *
 * @module
 */

import type { BackendChoice, EndpointBackend } from "../backends/backend.ts";
import { selectBackend } from "../backends/select.ts";
import { type Endpoint, parseEndpointWords } from "../model/endpoint.ts";
import { UsageError } from "../model/errors.ts";
import { closeFd } from "../sys/ffi.ts";
import {
  type EgressMapping,
  type IngressMapping,
  parseEgress,
  parseIngress,
} from "../model/mapping.ts";
import { canonicalMapping, type MapKind, type NamespaceMaps } from "../model/nsmap.ts";
import { openNetns } from "../sys/netns.ts";
import { checkEndpoints, launch } from "../backends/launcher.ts";
import {
  decideMode,
  type ModeChoice,
  type ModeDecision,
  seccompUnavailable,
} from "../backends/modes.ts";

/** Where and through what an endpoint operation acts. */
export interface EndpointOptions {
  /** The namespace the endpoints are defined in: a name under /run/netns, a PID or a path. Default: the caller's. */
  netns?: string;
  /** "auto" (default) uses the kernel module when loaded, else the broker. */
  backend?: BackendChoice;
}

function withWhere<T>(opts: EndpointOptions, fn: (b: EndpointBackend, netnsFd?: number) => T): T {
  const backend = selectBackend(opts.backend ?? "auto");
  const fd = opts.netns !== undefined ? openNetns(opts.netns) : undefined;
  try {
    return fn(backend, fd);
  } finally {
    if (fd !== undefined) closeFd(fd);
  }
}

/**
 * Define an endpoint. Accepts an {@link Endpoint} or the words of
 * `graft ep add` (`"ep-test type ipv4 addr 127.0.0.1 port 8080"`).
 * Needs root (CAP_NET_ADMIN).
 */
export function addEndpoint(ep: Endpoint | string, opts: EndpointOptions = {}): Endpoint {
  const endpoint = typeof ep === "string" ? parseEndpointWords(ep.trim().split(/\s+/)) : ep;
  withWhere(opts, (b, netnsFd) => b.add(endpoint, { netnsFd }));
  return endpoint;
}

/** Delete an endpoint by name. Needs root (CAP_NET_ADMIN). */
export function deleteEndpoint(name: string, opts: EndpointOptions = {}): void {
  withWhere(opts, (b, netnsFd) => b.del(name, { netnsFd }));
}

/** The endpoints defined in a namespace, sorted by name. */
export function listEndpoints(opts: EndpointOptions = {}): Endpoint[] {
  return withWhere(opts, (b, netnsFd) => b.list({ netnsFd })).sort((a, b) =>
    a.name.localeCompare(b.name)
  );
}

/** Add a default mapping to a namespace (`kind` "ingress" or "egress"); returns its canonical text. Needs root. */
export function addMapping(kind: MapKind, mapping: string, opts: EndpointOptions = {}): string {
  const text = canonicalMapping(kind, mapping);
  withWhere(opts, (b, netnsFd) => b.mapAdd(kind, text, { netnsFd }));
  return text;
}

/** Delete a namespace's default mapping. Needs root. */
export function deleteMapping(kind: MapKind, mapping: string, opts: EndpointOptions = {}): void {
  const text = canonicalMapping(kind, mapping);
  withWhere(opts, (b, netnsFd) => b.mapDel(kind, text, { netnsFd }));
}

/** A namespace's default mappings (used by `graft run` when it is given no -i/-e). */
export function listMappings(opts: EndpointOptions = {}): NamespaceMaps {
  return withWhere(opts, (b, netnsFd) => b.mapList({ netnsFd }));
}

/** How to start a grafted program. */
export interface SpawnOptions extends EndpointOptions {
  /** Ingress mappings, as text (`"0.0.0.0:5201=ep-test"`) or parsed. */
  ingress?: (string | IngressMapping)[];
  /** Egress mappings, as text (`"0.0.0.0/0=ep-out"`) or parsed. */
  egress?: (string | EgressMapping)[];
  /** Let the preload trace its conversions on stderr. */
  verbose?: boolean;
  /** getsockname() on a socket grafted by bind(): "program" (default) or "host". */
  names?: "program" | "host";
  /** Extra environment for the program. */
  env?: Record<string, string>;
  /** stdin of the child (default "inherit"). */
  stdin?: "inherit" | "null" | "piped";
  /** stdout of the child (default "inherit"). */
  stdout?: "inherit" | "null" | "piped";
  /** stderr of the child (default "inherit"). */
  stderr?: "inherit" | "null" | "piped";
  /** Check that the mapped endpoints exist before starting (default true). */
  checkEndpoints?: boolean;
  /** The conversion engine (default "auto": LD_PRELOAD where it works, seccomp where it cannot). */
  mode?: ModeChoice;
  /** Told which engine was chosen and why (the CLI prints it). */
  onMode?: (d: ModeDecision) => void;
}

/** Whether an ingress mapping targets a Unix endpoint of the namespace. */
function mapsUnixEndpoint(
  backend: EndpointBackend,
  netnsFd: number | undefined,
  ingress: IngressMapping[],
): boolean {
  if (ingress.length === 0) return false;
  const unix = new Set(
    backend.list({ netnsFd }).filter((e) => e.type === "unix").map((e) => e.name),
  );
  return ingress.some((m) => unix.has(m.ep));
}

/**
 * Start `cmd` with its sockets grafted, inside `opts.netns` when given — what
 * `graft run` does. Returns the child like `Deno.Command.spawn()`.
 */
export function spawnGrafted(cmd: string[], opts: SpawnOptions = {}): Deno.ChildProcess {
  if (cmd.length === 0) throw new UsageError("spawnGrafted: empty command");
  let ingress = (opts.ingress ?? []).map((m) => typeof m === "string" ? parseIngress(m) : m);
  let egress = (opts.egress ?? []).map((m) => typeof m === "string" ? parseEgress(m) : m);
  return withWhere(opts, (backend, netnsFd) => {
    if (ingress.length === 0 && egress.length === 0 && backend.kind === "broker") {
      // No mappings of its own: the program gets its namespace's (graft map).
      const maps = backend.mapList({ netnsFd });
      ingress = maps.ingress.map(parseIngress);
      egress = maps.egress.map(parseEgress);
    }
    const decision = decideMode(
      cmd[0],
      opts.mode ?? "auto",
      seccompUnavailable(backend.kind),
      opts.verbose,
    );
    opts.onMode?.(decision);
    const launchOpts = {
      mode: decision.mode,
      cmd,
      ingress,
      egress,
      verbose: opts.verbose,
      names: opts.names,
      netnsFd,
      unixIngress: decision.mode === "seccomp" && mapsUnixEndpoint(backend, netnsFd, ingress),
      backend: backend.kind,
      env: opts.env,
      stdin: opts.stdin,
      stdout: opts.stdout,
      stderr: opts.stderr,
    };
    if (opts.checkEndpoints !== false) {
      checkEndpoints(
        backend,
        launchOpts,
        opts.netns !== undefined ? `namespace ${opts.netns}` : "this namespace",
      );
    }
    return launch(launchOpts);
  });
}
