/**
 * graft as a CNI plugin (spec 1.0 and 1.1), chained after the cluster's
 * network plugin (or `loopback`):
 *
 * - the `portMappings` capability: each `{hostPort, containerPort, protocol,
 *   hostIP}` becomes an endpoint on the host (hostIP, default 0.0.0.0, port
 *   hostPort) and an ingress mapping `0.0.0.0:containerPort` (or `[::]`) onto
 *   it, so a server in the pod listens on the host's socket directly;
 * - the `egress` option (`true`, or `{"ipv4": ADDR, "ipv6": ADDR}`): `port
 *   dynamic` endpoints and `0.0.0.0/0` / `::/0` egress mappings, so clients in
 *   the pod leave through the host's stack.
 *
 * ADD defines them in CNI_NETNS (all or nothing); DEL removes them and is
 * idempotent; CHECK verifies them; STATUS says whether graft can serve;
 * GC removes attachments the runtime no longer knows; VERSION lists the
 * versions spoken. Failures are CNI error objects with the spec's codes.
 *
 * @module
 */

import type { Endpoint } from "../model/endpoint.ts";
import { GraftError } from "../model/errors.ts";
import { brokerStatus } from "../broker/client.ts";
import { kernelAvailable } from "../backends/kernel.ts";
import { parseIPv4, parseIPv6 } from "../model/addr.ts";
import {
  attach,
  type AttachSpec,
  checkAttachment,
  detach,
  listAttachments,
  readAttachment,
} from "./attach.ts";

/** CNI versions this plugin speaks. */
export const CNI_VERSIONS = ["0.4.0", "1.0.0", "1.1.0"];

/** CNI's well-known error codes (spec section "Error"). */
export const CniCode = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
} as const;

/** A failure reported to the runtime as a CNI error object. */
export class CniError extends Error {
  /** A CNI error code and a message. */
  constructor(readonly code: number, message: string, readonly details = "") {
    super(message);
  }
}

/** One entry of the `portMappings` capability. */
export interface PortMapping {
  /** Port on the host. */
  hostPort: number;
  /** Port the program in the pod binds. */
  containerPort: number;
  /** "tcp" (default), "udp" or "sctp" (refused). */
  protocol?: string;
  /** Host address; empty means every address. */
  hostIP?: string;
}

/** The plugin's configuration (its part of the conflist, with runtimeConfig). */
export interface CniConfig {
  /** Spec version of the configuration. */
  cniVersion: string;
  /** Network name. */
  name: string;
  /** "graft". */
  type: string;
  /** Egress through the host: true, or the host addresses to leave from. */
  egress?: boolean | { ipv4?: string; ipv6?: string };
  /** Where endpoints live: auto (default), kernel or broker. */
  backend?: "auto" | "kernel" | "broker";
  /** What the runtime filled in for our capabilities. */
  runtimeConfig?: { portMappings?: PortMapping[] };
  /** The previous plugin's result, passed through. */
  prevResult?: Record<string, unknown>;
}

/** What a runtime passes in the environment. */
export interface CniEnv {
  /** ADD, DEL, CHECK, VERSION, STATUS or GC. */
  command: string;
  /** CNI_CONTAINERID. */
  containerId?: string;
  /** CNI_NETNS. */
  netns?: string;
  /** CNI_IFNAME. */
  ifname?: string;
}

/** Parse and validate the configuration on stdin. */
export function parseConfig(text: string): CniConfig {
  let conf: CniConfig;
  try {
    conf = JSON.parse(text);
  } catch (e) {
    throw new CniError(CniCode.DECODE_FAILURE, `cannot decode the network configuration`, `${e}`);
  }
  if (typeof conf !== "object" || conf === null) {
    throw new CniError(CniCode.DECODE_FAILURE, "the network configuration is not a JSON object");
  }
  if (typeof conf.cniVersion !== "string" || !CNI_VERSIONS.includes(conf.cniVersion)) {
    throw new CniError(
      CniCode.INCOMPATIBLE_VERSION,
      `unsupported cniVersion ${JSON.stringify(conf.cniVersion)}`,
      `supported: ${CNI_VERSIONS.join(", ")}`,
    );
  }
  if (conf.backend !== undefined && !["auto", "kernel", "broker"].includes(conf.backend)) {
    throw new CniError(CniCode.INVALID_CONFIG, `backend must be auto, kernel or broker`);
  }
  for (const pm of conf.runtimeConfig?.portMappings ?? []) checkPortMapping(pm);
  return conf;
}

function checkPortMapping(pm: PortMapping): void {
  const port = (v: unknown) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
  if (!port(pm.hostPort) || !port(pm.containerPort)) {
    throw new CniError(
      CniCode.INVALID_CONFIG,
      `portMappings: hostPort and containerPort must be 1..65535 (got ${JSON.stringify(pm)})`,
    );
  }
  const proto = (pm.protocol ?? "tcp").toLowerCase();
  if (proto !== "tcp" && proto !== "udp") {
    throw new CniError(CniCode.UNSUPPORTED_FIELD, `portMappings: protocol ${proto} (tcp or udp)`);
  }
  if (pm.hostIP && !parseIPv4(pm.hostIP) && !parseIPv6(pm.hostIP)) {
    throw new CniError(CniCode.INVALID_CONFIG, `portMappings: hostIP "${pm.hostIP}" is not an IP`);
  }
}

/** The endpoints and mappings a configuration asks for. */
export function planAttachment(conf: CniConfig, env: CniEnv): AttachSpec {
  const endpoints: Endpoint[] = [];
  const ingress: string[] = [];
  const egress: string[] = [];
  const seen = new Set<string>();
  for (const pm of conf.runtimeConfig?.portMappings ?? []) {
    const v6 = !!pm.hostIP && !parseIPv4(pm.hostIP);
    const addr = pm.hostIP || "0.0.0.0";
    // One endpoint per host address and port: TCP and UDP on one port share it.
    const name = `pm${v6 ? "6" : ""}-${pm.hostPort}`;
    if (!seen.has(name)) {
      seen.add(name);
      endpoints.push({ name, type: v6 ? "ipv6" : "ipv4", addr, port: pm.hostPort });
      ingress.push(`${v6 ? "[::]" : "0.0.0.0"}:${pm.containerPort}=${name}`);
    }
  }
  if (conf.egress) {
    const o = conf.egress === true ? {} : conf.egress;
    endpoints.push({ name: "egress4", type: "ipv4", addr: o.ipv4 ?? "0.0.0.0", port: "dynamic" });
    endpoints.push({ name: "egress6", type: "ipv6", addr: o.ipv6 ?? "::", port: "dynamic" });
    egress.push("0.0.0.0/0=egress4", "::/0=egress6");
  }
  return {
    owner: ownerOf(env),
    netns: env.netns!,
    endpoints,
    ingress,
    egress,
    backend: conf.backend,
  };
}

function ownerOf(env: CniEnv): string {
  return `cni-${env.containerId}-${env.ifname ?? "eth0"}`;
}

function needEnv(env: CniEnv, names: ("containerId" | "netns" | "ifname")[]): void {
  const envName = { containerId: "CNI_CONTAINERID", netns: "CNI_NETNS", ifname: "CNI_IFNAME" };
  for (const n of names) {
    if (!env[n]) throw new CniError(CniCode.INVALID_ENV, `${envName[n]} is not set`);
  }
}

/** The ADD result: the previous plugin's result, or an empty one. */
function result(conf: CniConfig): Record<string, unknown> {
  return { ...(conf.prevResult ?? { interfaces: [], ips: [] }), cniVersion: conf.cniVersion };
}

function add(conf: CniConfig, env: CniEnv): Record<string, unknown> {
  needEnv(env, ["containerId", "netns", "ifname"]);
  try {
    Deno.statSync(env.netns!);
  } catch {
    throw new CniError(CniCode.UNKNOWN_CONTAINER, `network namespace ${env.netns} does not exist`);
  }
  const spec = planAttachment(conf, env);
  if (readAttachment(spec.owner)) detach(spec.owner); // a repeated ADD replaces the old one
  try {
    attach(spec);
  } catch (e) {
    if (e instanceof GraftError && /not running/.test(e.message)) {
      throw new CniError(CniCode.TRY_AGAIN_LATER, e.message);
    }
    throw new CniError(CniCode.IO_FAILURE, (e as Error).message);
  }
  return result(conf);
}

function check(env: CniEnv): void {
  needEnv(env, ["containerId", "netns"]);
  const a = readAttachment(ownerOf(env));
  if (!a) {
    throw new CniError(CniCode.UNKNOWN_CONTAINER, `no graft attachment for ${env.containerId}`);
  }
  const why = checkAttachment(a);
  if (why) throw new CniError(CniCode.IO_FAILURE, why);
}

function status(conf: CniConfig): void {
  if (conf.backend === "kernel" || (conf.backend !== "broker" && kernelAvailable())) return;
  try {
    brokerStatus();
  } catch (e) {
    throw new CniError(CniCode.NOT_AVAILABLE, `graft cannot serve: ${(e as Error).message}`);
  }
}

/** GC: remove every attachment of ours not in `cni.dev/valid-attachments`. */
function gc(text: string): void {
  const conf = JSON.parse(text) as {
    "cni.dev/valid-attachments"?: { containerID: string; ifname: string }[];
  };
  const valid = new Set(
    (conf["cni.dev/valid-attachments"] ?? []).map((v) => `cni-${v.containerID}-${v.ifname}`),
  );
  for (const a of listAttachments()) {
    if (a.owner.startsWith("cni-") && !valid.has(a.owner)) detach(a.owner);
  }
}

/**
 * Run one CNI command; returns what to print on stdout (or undefined) and
 * throws CniError on failure.
 */
export function runCni(env: CniEnv, stdin: string): Record<string, unknown> | undefined {
  if (env.command === "VERSION") {
    return { cniVersion: "1.1.0", supportedVersions: CNI_VERSIONS };
  }
  const conf = parseConfig(stdin);
  switch (env.command) {
    case "ADD":
      return add(conf, env);
    case "DEL":
      needEnv(env, ["containerId"]);
      detach(ownerOf(env));
      return undefined;
    case "CHECK":
      check(env);
      return undefined;
    case "STATUS":
      status(conf);
      return undefined;
    case "GC":
      gc(stdin);
      return undefined;
    default:
      throw new CniError(
        CniCode.INVALID_ENV,
        `CNI_COMMAND "${env.command}" is not one of ADD, DEL, CHECK, VERSION, STATUS, GC`,
      );
  }
}
