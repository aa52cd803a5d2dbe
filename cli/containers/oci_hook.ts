/**
 * graft as an OCI hook: `createRuntime` defines the container's endpoints and
 * default mappings in its network namespace from annotations; `poststop`
 * removes them (also after an abrupt death: the record says what to remove).
 *
 * Annotations (all optional; a container with none is left alone):
 *
 * - `graft.endpoints`: endpoints separated by `;`, each in `graft ep add`'s
 *   words: `web type ipv4 addr 127.0.0.1 port 8080; out type ipv4 addr 127.0.0.1 port dynamic`
 * - `graft.ingress`: ingress mappings separated by `,` or spaces: `0.0.0.0:80=web`
 * - `graft.egress`: egress mappings: `0.0.0.0/0=out`
 * - `graft.backend`: auto (default), kernel or broker
 *
 * @module
 */

import type { BackendChoice } from "../backends/backend.ts";
import { type Endpoint, parseEndpointWords } from "../model/endpoint.ts";
import { UsageError } from "../model/errors.ts";
import { attach, type AttachSpec, detach } from "./attach.ts";

/** The annotation names the hook reads. */
export const ANNOTATIONS = {
  endpoints: "graft.endpoints",
  ingress: "graft.ingress",
  egress: "graft.egress",
  backend: "graft.backend",
} as const;

/** The part of the OCI state (runtime-spec "State") the hook uses. */
export interface OciState {
  /** Container id. */
  id: string;
  /** "creating", "created", "running" or "stopped". */
  status: string;
  /** The container's process, while it exists. */
  pid?: number;
  /** Annotations of the container's config. */
  annotations?: Record<string, string>;
}

/** Parse the state JSON a runtime writes on the hook's stdin. */
export function parseState(text: string): OciState {
  let s: OciState;
  try {
    s = JSON.parse(text);
  } catch {
    throw new UsageError("oci-hook: stdin is not the container's state (JSON)");
  }
  if (typeof s !== "object" || s === null || typeof s.id !== "string" || s.id === "") {
    throw new UsageError("oci-hook: the state on stdin has no container id");
  }
  return s;
}

function words(text: string | undefined, sep: RegExp): string[] {
  return (text ?? "").split(sep).map((w) => w.trim()).filter((w) => w !== "");
}

/** What a container's annotations ask for, or undefined when they ask for nothing. */
export function planFromAnnotations(state: OciState): AttachSpec | undefined {
  const a = state.annotations ?? {};
  const endpoints: Endpoint[] = words(a[ANNOTATIONS.endpoints], /;/).map((e) =>
    parseEndpointWords(e.split(/\s+/))
  );
  const ingress = words(a[ANNOTATIONS.ingress], /[,\s]+/);
  const egress = words(a[ANNOTATIONS.egress], /[,\s]+/);
  if (endpoints.length + ingress.length + egress.length === 0) return undefined;
  const backend = (a[ANNOTATIONS.backend] ?? "auto") as BackendChoice;
  if (!["auto", "kernel", "broker"].includes(backend)) {
    throw new UsageError(`${ANNOTATIONS.backend}: "${backend}" is not auto, kernel or broker`);
  }
  if (!state.pid) throw new UsageError("oci-hook: the state has no pid (run at createRuntime)");
  return {
    owner: `oci-${state.id}`,
    netns: `/proc/${state.pid}/ns/net`,
    endpoints,
    ingress,
    egress,
    backend,
  };
}

/** The hook stages this command handles. */
export type HookStage = "createRuntime" | "poststop";

/** The stage: named on the command line, or read from the state's status. */
export function stageOf(arg: string | undefined, state: OciState): HookStage {
  if (arg === "createRuntime" || arg === "create" || arg === "prestart") return "createRuntime";
  if (arg === "poststop") return "poststop";
  if (arg !== undefined) {
    throw new UsageError(`oci-hook: unknown stage "${arg}" (createRuntime or poststop)`);
  }
  return state.status === "stopped" ? "poststop" : "createRuntime";
}

/** Run the hook for one stage; returns a line to log, if any. */
export function runHook(stage: HookStage, state: OciState): string | undefined {
  if (stage === "poststop") {
    detach(`oci-${state.id}`);
    return undefined;
  }
  const spec = planFromAnnotations(state);
  if (!spec) return undefined;
  attach(spec);
  return `graft: ${state.id}: ${spec.endpoints.length} endpoint(s), ` +
    `${spec.ingress.length + spec.egress.length} mapping(s)`;
}
