/**
 * Endpoints: a name defined in one network namespace that points at a real
 * address (or Unix path) in a target namespace. Parsing of the `ep add`
 * words, validation, and the seed's one-line text format.
 *
 * @module
 */

import { formatIP, parseIPv4, parseIPv6, UNIX_PATH_MAX } from "./addr.ts";
import { PROTO } from "./contract_gen.ts";
import { UsageError } from "./errors.ts";

/** Longest endpoint name in bytes (IFNAMSIZ - 1; the C side's limit without its NUL). */
export const EP_NAME_MAX = PROTO.GRAFT_EPNAME_MAX - 1;

/** An endpoint of type ipv4 or ipv6. */
export interface InetEndpoint {
  /** Endpoint name, 1..15 bytes. */
  name: string;
  /** Address family of the real socket. */
  type: "ipv4" | "ipv6";
  /** The address in canonical text form. */
  addr: string;
  /** A fixed port, or "dynamic" for the application's (usually ephemeral) port. */
  port: number | "dynamic";
  /** Target namespace as the user named it; absent for the initial namespace. */
  netns?: string;
  /** `reuseport`: applications may set SO_REUSEPORT (join the port's reuse group). */
  flags?: EndpointFlag[];
}

/** An endpoint of type unix. */
export interface UnixEndpoint {
  /** Endpoint name, 1..15 bytes. */
  name: string;
  /** A Unix domain socket path. */
  type: "unix";
  /** Filesystem path the real socket is bound to. */
  path: string;
  /** Target namespace as the user named it; absent for the initial namespace. */
  netns?: string;
  /** `abstract`: sockets that can reach the target's abstract Unix names are allowed. */
  flags?: EndpointFlag[];
}

/** Endpoint flags, as words on the command line and in files (docs/security.md). */
export type EndpointFlag = "reuseport" | "abstract";

/** The flags each endpoint type may carry. */
const FLAGS_FOR: Record<string, readonly EndpointFlag[]> = {
  ipv4: ["reuseport"],
  ipv6: ["reuseport"],
  unix: ["abstract"],
};

/** A graft endpoint. */
export type Endpoint = InetEndpoint | UnixEndpoint;

/** Check an endpoint name; throws a UsageError naming the problem. */
export function validateName(name: string): string {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes === 0) throw new UsageError("endpoint name is empty");
  if (bytes > EP_NAME_MAX) {
    throw new UsageError(
      `endpoint name "${name}" is ${bytes} bytes; the limit is ${EP_NAME_MAX}`,
    );
  }
  if (!/^[\x21-\x7e]+$/.test(name)) {
    throw new UsageError(`endpoint name "${name}" must be printable ASCII without spaces`);
  }
  return name;
}

/** Parse a port word: 1..65535 or "dynamic" (0 would mean "any": that is dynamic). */
export function parsePort(word: string): number | "dynamic" {
  if (word === "dynamic") return "dynamic";
  if (!/^\d+$/.test(word) || Number(word) > 65535) {
    throw new UsageError(`bad port "${word}": expected 1..65535 or dynamic`);
  }
  if (Number(word) === 0) throw new UsageError(`port 0 means any port: use "port dynamic"`);
  return Number(word);
}

const USAGE_ADD = "usage: graft ep add NAME type ipv4|ipv6 addr ADDR port PORT|dynamic " +
  "[reuseport] [netns NETNS] | graft ep add NAME type unix path PATH [abstract] [netns NETNS]";

/**
 * Parse the words after `graft ep add`, e.g.
 * `["ep-test", "type", "ipv4", "addr", "127.0.0.1", "port", "8080"]`.
 */
export function parseEndpointWords(words: string[]): Endpoint {
  if (words.length === 0) throw new UsageError(USAGE_ADD);
  const name = validateName(words[0]);
  const kv = new Map<string, string>();
  const flags: string[] = [];
  for (let i = 1; i < words.length; i += 2) {
    const key = words[i];
    if (key === "reuseport" || key === "abstract") {
      if (flags.includes(key)) throw new UsageError(`"${key}" given twice`);
      flags.push(key);
      i--;
      continue;
    }
    if (!["type", "addr", "port", "path", "netns"].includes(key)) {
      throw new UsageError(`unknown keyword "${key}"; ${USAGE_ADD}`);
    }
    if (i + 1 >= words.length) throw new UsageError(`"${key}" needs a value`);
    if (kv.has(key)) throw new UsageError(`"${key}" given twice`);
    kv.set(key, words[i + 1]);
  }
  return endpointFromFields(name, {
    ...Object.fromEntries(kv),
    ...(flags.length ? { flags } : {}),
  });
}

/** Fields of an endpoint as text or numbers, as a file or a command line gives them. */
export interface EndpointFields {
  /** ipv4, ipv6 or unix. */
  type?: unknown;
  /** Address (ipv4/ipv6). */
  addr?: unknown;
  /** Port number or "dynamic" (ipv4/ipv6). */
  port?: unknown;
  /** Socket path (unix). */
  path?: unknown;
  /** Target namespace: name, PID, path, or "host" for the initial one. */
  netns?: unknown;
  /** Flags: a list of words (`reuseport`, `abstract`). */
  flags?: unknown;
}

/** Check an endpoint's flags against its type; absent when there are none. */
function parseFlags(name: string, type: string, v: unknown): EndpointFlag[] | undefined {
  if (v === undefined) return undefined;
  const words = Array.isArray(v) ? v.map(String) : String(v).split(/[\s,]+/).filter(Boolean);
  const allowed = FLAGS_FOR[type] ?? [];
  for (const w of words) {
    if (!allowed.includes(w as EndpointFlag)) {
      throw new UsageError(
        `endpoint ${name}: flag "${w}" is not for type ${type} (${allowed.join(", ")})`,
      );
    }
  }
  const flags = [...new Set(words)].sort() as EndpointFlag[];
  return flags.length ? flags : undefined;
}

/** Build and validate an endpoint from loosely typed fields. */
export function endpointFromFields(name: string, f: EndpointFields): Endpoint {
  validateName(name);
  const type = f.type;
  if (type === undefined) throw new UsageError(`endpoint ${name}: "type" is required`);
  const netns = f.netns === undefined || f.netns === "host" ? undefined : String(f.netns);
  if (netns !== undefined && netns === "") throw new UsageError(`endpoint ${name}: empty netns`);
  if (type === "ipv4" || type === "ipv6") {
    if (f.path !== undefined) throw new UsageError(`endpoint ${name}: "path" is for type unix`);
    if (f.addr === undefined) throw new UsageError(`endpoint ${name}: "addr" is required`);
    if (f.port === undefined) throw new UsageError(`endpoint ${name}: "port" is required`);
    const text = String(f.addr);
    const bytes = type === "ipv4" ? parseIPv4(text) : parseIPv6(text);
    if (!bytes) throw new UsageError(`endpoint ${name}: "${text}" is not an ${type} address`);
    const port = parsePort(String(f.port));
    const flags = parseFlags(name, type, f.flags);
    return {
      name,
      type,
      addr: formatIP(bytes),
      port,
      ...(netns ? { netns } : {}),
      ...(flags ? { flags } : {}),
    };
  }
  if (type === "unix") {
    if (f.addr !== undefined || f.port !== undefined) {
      throw new UsageError(`endpoint ${name}: type unix takes "path", not addr/port`);
    }
    if (typeof f.path !== "string" || f.path === "") {
      throw new UsageError(`endpoint ${name}: "path" is required for type unix`);
    }
    if (!f.path.startsWith("/")) {
      throw new UsageError(`endpoint ${name}: unix path "${f.path}" must be absolute`);
    }
    if (new TextEncoder().encode(f.path).length > UNIX_PATH_MAX) {
      throw new UsageError(`endpoint ${name}: unix path longer than ${UNIX_PATH_MAX} bytes`);
    }
    const flags = parseFlags(name, type, f.flags);
    return { name, type, path: f.path, ...(netns ? { netns } : {}), ...(flags ? { flags } : {}) };
  }
  throw new UsageError(`endpoint ${name}: unknown type "${String(type)}" (ipv4, ipv6 or unix)`);
}

/** The seed's one-line form: `ep-test type ipv4 addr 127.0.0.1 port 8080`. */
export function formatEndpoint(ep: Endpoint): string {
  const where = (ep.flags?.length ? ` ${ep.flags.join(" ")}` : "") +
    (ep.netns ? ` netns ${ep.netns}` : "");
  if (ep.type === "unix") return `${ep.name} type unix path ${ep.path}${where}`;
  return `${ep.name} type ${ep.type} addr ${ep.addr} port ${ep.port}${where}`;
}

/** True when two endpoints say the same thing. */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return formatEndpoint(a) === formatEndpoint(b);
}

/** Validate an endpoint received as JSON (from the broker or a file). */
export function endpointFromJson(v: unknown): Endpoint {
  if (!v || typeof v !== "object") throw new UsageError("endpoint is not an object");
  const o = v as Record<string, unknown>;
  if (typeof o.name !== "string") throw new UsageError("endpoint has no name");
  return endpointFromFields(o.name, o);
}
