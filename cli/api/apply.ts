/**
 * `graft apply -f FILE.yaml [--prune]` and `graft export`: endpoints declared
 * in a file, per namespace.
 *
 * ```yaml
 * namespaces:
 *   c1:
 *     endpoints:
 *       ep-in:  {type: ipv4, addr: 127.0.0.1, port: 8080}
 *       ep-out: {type: ipv4, addr: 127.0.0.1, port: dynamic}
 *       ep-app: {type: unix, path: /run/app.sock, netns: host}
 * ```
 *
 * A namespace key is a NETNS (a name under /run/netns, a PID, a path) or
 * `host` for the initial namespace. Applying is idempotent. The whole file is
 * checked first (syntax, fields, that every namespace exists); one problem
 * and nothing changes, with errors naming the line and the field. `--prune`
 * deletes the endpoints of the declared namespaces that the file does not
 * declare; namespaces the file does not mention are left alone (declare one
 * with no endpoints to empty it).
 *
 * @module
 */

import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  type Pair,
  parseDocument,
  type YAMLMap,
  type YAMLSeq,
} from "npm:yaml@2";
import { canonicalMapping, emptyMaps, type MapKind, type NamespaceMaps } from "../model/nsmap.ts";
import { parseIPv4, parseIPv6, UNIX_PATH_MAX } from "../model/addr.ts";
import type { EndpointBackend } from "../backends/backend.ts";
import { brokerStatus } from "../broker/client.ts";
import {
  type Endpoint,
  type EndpointFields,
  endpointFromFields,
  parsePort,
  sameEndpoint,
  validateName,
} from "../model/endpoint.ts";
import { GraftError } from "../model/errors.ts";
import { closeFd, openFd } from "../sys/ffi.ts";
import { displayName, scanHost } from "../sys/procscan.ts";
import { netnsIdOfPath, openNetns } from "../sys/netns.ts";

/** The NETNS key that means the initial namespace. */
export const HOST = "host";

/** One problem found in a file: where, which field, what. */
export interface Problem {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
  /** Dotted path of the field, e.g. `namespaces.c1.endpoints.ep-in.port`. */
  field: string;
  /** What is wrong. */
  message: string;
}

/** A file that cannot be applied: nothing was changed. Carries every problem found. */
export class ApplyFileError extends GraftError {
  /** All problems, in file order. */
  readonly problems: Problem[];

  /** Problems found in `file`, reported as one line naming the first few. */
  constructor(file: string, problems: Problem[]) {
    const shown = problems.slice(0, 3).map((p) =>
      `${file}:${p.line}:${p.col}: ${p.field ? p.field + ": " : ""}${p.message}`
    );
    const more = problems.length > 3 ? `; ${problems.length - 3} more problems` : "";
    super(`${shown.join("; ")}${more}; nothing applied`, 1);
    this.name = "ApplyFileError";
    this.problems = problems;
  }
}

/** An endpoint as a file declares it. */
export interface DeclaredEndpoint {
  /** The validated endpoint. */
  endpoint: Endpoint;
  /** Line of its name. */
  line: number;
}

/** A namespace as a file declares it. */
export interface DeclaredNamespace {
  /** The key: NETNS or "host". */
  netns: string;
  /** Line of the key. */
  line: number;
  /** Its endpoints, in file order. */
  endpoints: DeclaredEndpoint[];
  /** Its default mappings (canonical), when the file declares `ingress:` or `egress:`. */
  maps?: NamespaceMaps;
}

const ENDPOINT_FIELDS = ["type", "addr", "port", "path", "netns", "flags"] as const;

/** Where a YAML node starts (0 when unknown). */
function start(n: YamlNode | null | undefined | unknown): number {
  return (n && typeof n === "object" && "range" in n
    ? (n as { range?: [number, number, number] }).range?.[0]
    : undefined) ?? 0;
}

/** A key as written: `0x10` stays "0x10", not 16. */
function keyText(k: unknown): string | undefined {
  return isScalar(k) ? (typeof k.source === "string" ? k.source : String(k.value)) : undefined;
}

/** One pass over a parsed document, collecting every problem with its line and column. */
class FileReader {
  readonly problems: Problem[] = [];
  constructor(readonly lc: LineCounter) {}

  at(offset: number | undefined, field: string, message: string): void {
    const { line, col } = this.lc.linePos(offset ?? 0);
    this.problems.push({ line, col, field, message });
  }

  /** The map in `n`, treating an empty value as an empty map; undefined after a problem. */
  mapOf(n: unknown, field: string, where: number): Pair[] | undefined {
    if (n === null || n === undefined || (isScalar(n) && n.value === null)) return [];
    if (isAlias(n)) {
      this.at(start(n), field, "aliases are not supported");
      return undefined;
    }
    if (!isMap(n)) {
      this.at(start(n) || where, field, "expected a mapping");
      return undefined;
    }
    return (n as YAMLMap).items as Pair[];
  }

  /** The pairs under the one top-level key, "namespaces". */
  namespaces(top: Pair[]): Pair[] {
    let nsPairs: Pair[] = [];
    for (const p of top) {
      const k = keyText(p.key);
      if (k !== "namespaces") {
        this.at(start(p.key), String(k), `unknown key "${k}" (the file has one key, "namespaces")`);
        continue;
      }
      nsPairs = this.mapOf(p.value, "namespaces", start(p.key)) ?? [];
    }
    return nsPairs;
  }

  /** One namespace and its endpoints; undefined when its key is unusable. */
  namespace(nsPair: Pair): DeclaredNamespace | undefined {
    const netns = keyText(nsPair.key);
    const nsField = `namespaces.${netns}`;
    if (!netns) {
      this.at(start(nsPair.key), "namespaces", "a namespace key must be a name, PID or path");
      return undefined;
    }
    const decl: DeclaredNamespace = {
      netns,
      line: this.lc.linePos(start(nsPair.key)).line,
      endpoints: [],
    };
    const body = this.mapOf(nsPair.value, nsField, start(nsPair.key)) ?? [];
    for (const bp of body) {
      const k = keyText(bp.key);
      if (k === "ingress" || k === "egress") {
        decl.maps ??= emptyMaps();
        decl.maps[k] = this.mappings(bp, k, `${nsField}.${k}`);
        continue;
      }
      if (k !== "endpoints") {
        this.at(
          start(bp.key),
          `${nsField}.${k}`,
          `unknown key "${k}" (a namespace has "endpoints", "ingress", "egress")`,
        );
        continue;
      }
      for (const ep of this.mapOf(bp.value, `${nsField}.endpoints`, start(bp.key)) ?? []) {
        const d = this.endpoint(ep, `${nsField}.endpoints`);
        if (d) decl.endpoints.push(d);
      }
    }
    return decl;
  }

  /** A list of mappings of `kind`, each checked and made canonical. */
  mappings(p: Pair, kind: MapKind, field: string): string[] {
    if (p.value === null || (isScalar(p.value) && p.value.value === null)) return [];
    if (!isSeq(p.value)) {
      this.at(start(p.value) || start(p.key), field, `expected a list of ${kind} mappings`);
      return [];
    }
    const out: string[] = [];
    for (const item of (p.value as YAMLSeq).items) {
      if (!isScalar(item) || typeof item.value !== "string") {
        this.at(start(item) || start(p.key), field, "expected a mapping as text");
        continue;
      }
      try {
        out.push(canonicalMapping(kind, item.value));
      } catch (e) {
        this.at(start(item), field, (e as Error).message);
      }
    }
    return out;
  }

  /** One endpoint: its name, then its fields, each checked on its own, then together. */
  endpoint(ep: Pair, parent: string): DeclaredEndpoint | undefined {
    const name = keyText(ep.key) ?? "";
    const epField = `${parent}.${name}`;
    const epAt = start(ep.key);
    const before = this.problems.length;
    try {
      validateName(name);
    } catch (e) {
      this.at(epAt, epField, (e as Error).message);
    }
    const fields = this.mapOf(ep.value, epField, epAt);
    if (!fields) return undefined;
    const f = this.fields(fields, epField);
    if (this.problems.length > before) return undefined;
    try {
      return {
        endpoint: endpointFromFields(name, f as EndpointFields),
        line: this.lc.linePos(epAt).line,
      };
    } catch (e) {
      // What is missing or does not go together: point at the endpoint.
      this.at(epAt, epField, (e as Error).message.replace(/^endpoint \S+: /, ""));
      return undefined;
    }
  }

  /** An endpoint's fields, those that are valid on their own. */
  fields(fields: Pair[], epField: string): Record<string, unknown> {
    const f: Record<string, unknown> = {};
    const valid: { key: string; field: string; node: YamlNode; value: unknown }[] = [];
    for (const fp of fields) {
      const key = keyText(fp.key) ?? "";
      const field = `${epField}.${key}`;
      if (!(ENDPOINT_FIELDS as readonly string[]).includes(key)) {
        this.at(start(fp.key), field, `unknown field "${key}" (${ENDPOINT_FIELDS.join(", ")})`);
        continue;
      }
      if (!isScalar(fp.value) || fp.value.value === null) {
        this.at(start(fp.value) || start(fp.key), field, "expected a single value");
        continue;
      }
      const v = fp.value;
      const value = typeof v.value === "number" && typeof v.source === "string"
        ? v.source
        : v.value;
      valid.push({ key, field, node: v, value });
      if (key === "type") f.type = value;
    }
    for (const { key, field, node, value } of valid) {
      const problem = fieldProblem(key, value, f.type);
      if (problem) this.at(start(node), field, problem);
      else f[key] = value;
    }
    return f;
  }
}

/**
 * Parse and validate a file's text (no system access). Throws an
 * {@link ApplyFileError} listing every problem.
 */
export function parseApplyText(text: string, file = "FILE"): DeclaredNamespace[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const r = new FileReader(lc);
  for (const e of doc.errors) r.at(e.pos[0], "", e.message.split("\n")[0]);
  if (r.problems.length) throw new ApplyFileError(file, r.problems);
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return []; // empty file
  const top = r.mapOf(root, "", 0);
  if (!top) throw new ApplyFileError(file, r.problems);
  const out: DeclaredNamespace[] = [];
  for (const nsPair of r.namespaces(top)) {
    const decl = r.namespace(nsPair);
    if (decl) out.push(decl);
  }
  if (r.problems.length) {
    r.problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ApplyFileError(file, r.problems);
  }
  return out;
}

/** What is wrong with one endpoint field on its own, if anything. */
function fieldProblem(key: string, value: unknown, type: unknown): string | undefined {
  if (typeof value === "boolean") return `${String(value)} is not a valid ${key}`;
  const text = String(value);
  switch (key) {
    case "type":
      return ["ipv4", "ipv6", "unix"].includes(text)
        ? undefined
        : `unknown type "${text}" (ipv4, ipv6 or unix)`;
    case "addr":
      if (type === "ipv4" && !parseIPv4(text)) return `"${text}" is not an ipv4 address`;
      if (type === "ipv6" && !parseIPv6(text)) return `"${text}" is not an ipv6 address`;
      if (!parseIPv4(text) && !parseIPv6(text)) return `"${text}" is not an IP address`;
      return undefined;
    case "port":
      try {
        parsePort(text);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    case "path":
      if (!text.startsWith("/")) return `unix path "${text}" must be absolute`;
      if (new TextEncoder().encode(text).length > UNIX_PATH_MAX) {
        return `unix path longer than ${UNIX_PATH_MAX} bytes`;
      }
      return undefined;
    case "netns":
      return text === "" ? "empty netns" : undefined;
  }
  return undefined;
}

/** Open the namespace a file key names; "host" is the initial namespace. */
export function openDeclaredNetns(netns: string): number {
  if (netns === HOST) {
    try {
      return openFd("/proc/1/ns/net");
    } catch {
      return openFd("/proc/self/ns/net");
    }
  }
  return openNetns(netns);
}

/** Options of {@link applyFile}. */
export interface ApplyOptions {
  /** Delete endpoints of the declared namespaces that the file does not declare. */
  prune?: boolean;
  /** Where endpoints are kept. */
  backend: EndpointBackend;
  /** Work out the changes without making them. */
  dryRun?: boolean;
}

/** What happened to one endpoint. */
export interface ApplyChange {
  /** The namespace key, as in the file. */
  netns: string;
  /** Endpoint name. */
  name: string;
  /** created, changed (deleted and added again), deleted (--prune) or unchanged. */
  action: "created" | "changed" | "deleted" | "unchanged";
}

/** The outcome of an apply. */
export interface ApplyResult {
  /** Every endpoint considered, in order. */
  changes: ApplyChange[];
  /** Counts per action. */
  created: number;
  /** Endpoints replaced because a field differs. */
  changed: number;
  /** Endpoints removed by --prune. */
  deleted: number;
  /** Endpoints already as declared. */
  unchanged: number;
  /** Namespaces declared. */
  namespaces: number;
  /** Mappings created, deleted (--prune) and unchanged (counted apart from endpoints). */
  mappings: { created: number; deleted: number; unchanged: number };
}

/** Apply a file: validate all of it, then bring the backend to what it declares. */
export function applyFile(path: string, opts: ApplyOptions): ApplyResult {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new GraftError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return applyText(text, path, opts);
}

/** {@link applyFile} on a file's text; `file` names it in errors. */
export function applyText(text: string, file: string, opts: ApplyOptions): ApplyResult {
  const decls = parseApplyText(text, file);
  const opened: OpenedNamespace[] = [];
  try {
    openDeclared(decls, text, file, opened);
    const { result, plan } = planChanges(opened, opts);
    result.namespaces = decls.length;
    if (!opts.dryRun) {
      for (const step of plan) {
        const where = { netnsFd: step.fd };
        for (const [kind, text] of step.mapDel) opts.backend.mapDel(kind, text, where);
        for (const name of step.del) opts.backend.del(name, where);
        for (const ep of step.add) opts.backend.add(ep, where);
        for (const [kind, text] of step.mapAdd) opts.backend.mapAdd(kind, text, where);
      }
    }
    return result;
  } finally {
    for (const { fd } of opened) closeFd(fd);
  }
}

/** A declared namespace and a descriptor of it. */
interface OpenedNamespace {
  decl: DeclaredNamespace;
  fd: number;
}

/**
 * The second pass, before any change: every namespace (and every endpoint's
 * target) must exist, and each be declared once. Fills `opened` (the caller
 * closes them) and throws an {@link ApplyFileError} listing every problem.
 */
function openDeclared(
  decls: DeclaredNamespace[],
  text: string,
  file: string,
  opened: OpenedNamespace[],
): void {
  const problems: Problem[] = [];
  const seen = new Map<number, string>();
  const lineText = text.split("\n");
  const at = (line: number, word: string, field: string, message: string) =>
    problems.push({
      line,
      col: Math.max(1, (lineText[line - 1] ?? "").indexOf(word) + 1),
      field,
      message,
    });
  for (const decl of decls) {
    const field = `namespaces.${decl.netns}`;
    let fd: number;
    try {
      fd = openDeclaredNetns(decl.netns);
    } catch (e) {
      at(decl.line, decl.netns, field, (e as Error).message);
      continue;
    }
    opened.push({ decl, fd });
    const ino = netnsIdOfPath(`/proc/self/fd/${fd}`)?.ino ?? -1;
    const other = seen.get(ino);
    if (other !== undefined) {
      at(decl.line, decl.netns, field, `same namespace as "${other}", declared above`);
    }
    seen.set(ino, decl.netns);
    for (const d of decl.endpoints) {
      if (d.endpoint.netns === undefined) continue;
      try {
        closeFd(openNetns(d.endpoint.netns));
      } catch (e) {
        at(d.line, "netns", `${field}.endpoints.${d.endpoint.name}.netns`, (e as Error).message);
      }
    }
  }
  if (problems.length) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ApplyFileError(file, problems);
  }
}

/** Work out every change (what to delete and add in each namespace) before making any. */
function planChanges(opened: OpenedNamespace[], opts: ApplyOptions) {
  const result: ApplyResult = {
    changes: [],
    created: 0,
    changed: 0,
    deleted: 0,
    unchanged: 0,
    namespaces: 0,
    mappings: { created: 0, deleted: 0, unchanged: 0 },
  };
  const plan: PlanStep[] = [];
  for (const { decl, fd } of opened) {
    const current = new Map(opts.backend.list({ netnsFd: fd }).map((e) => [e.name, e]));
    const step: PlanStep = { fd, del: [], add: [], mapDel: [], mapAdd: [] };
    for (const { endpoint } of decl.endpoints) {
      const have = current.get(endpoint.name);
      let action: ApplyChange["action"];
      if (!have) {
        action = "created";
        step.add.push(endpoint);
      } else if (sameEndpoint(have, endpoint)) {
        action = "unchanged";
      } else {
        action = "changed";
        step.del.push(endpoint.name);
        step.add.push(endpoint);
      }
      result[action]++;
      result.changes.push({ netns: decl.netns, name: endpoint.name, action });
      current.delete(endpoint.name);
    }
    if (opts.prune) {
      for (const name of [...current.keys()].sort()) {
        step.del.push(name);
        result.deleted++;
        result.changes.push({ netns: decl.netns, name, action: "deleted" });
      }
    }
    if (decl.maps) planMappings(decl, fd, step, result, opts);
    plan.push(step);
  }
  return { result, plan };
}

/** One namespace's changes. */
interface PlanStep {
  fd: number;
  del: string[];
  add: Endpoint[];
  mapDel: [MapKind, string][];
  mapAdd: [MapKind, string][];
}

/** The mapping changes of a namespace that declares `ingress:`/`egress:`. */
function planMappings(
  decl: DeclaredNamespace,
  fd: number,
  step: PlanStep,
  result: ApplyResult,
  opts: ApplyOptions,
): void {
  const have = opts.backend.mapList({ netnsFd: fd });
  for (const kind of ["ingress", "egress"] as const) {
    const flag = kind === "ingress" ? "-i" : "-e";
    for (const text of decl.maps![kind]) {
      const action = have[kind].includes(text) ? "unchanged" : "created";
      if (action === "created") step.mapAdd.push([kind, text]);
      result.changes.push({ netns: decl.netns, name: `${flag} ${text}`, action });
      result.mappings[action]++;
    }
    if (!opts.prune) continue;
    for (const text of have[kind].filter((t) => !decl.maps![kind].includes(t))) {
      step.mapDel.push([kind, text]);
      result.changes.push({ netns: decl.netns, name: `${flag} ${text}`, action: "deleted" });
      result.mappings.deleted++;
    }
  }
}

/**
 * The result as text: one line per endpoint that changed, then a summary,
 * which is `unchanged (...)` when nothing changed.
 */
export function formatApplyResult(r: ApplyResult, dryRun = false): string {
  const lines = r.changes
    .filter((c) => c.action !== "unchanged")
    .map((c) => `${c.netns}: ${c.name} ${dryRun ? "would be " : ""}${c.action}`);
  const eps = r.created + r.changed + r.unchanged;
  let scope = `${eps} endpoint${eps === 1 ? "" : "s"} in ${r.namespaces} namespace${
    r.namespaces === 1 ? "" : "s"
  }`;
  const m = r.mappings;
  const anyMaps = m.created + m.deleted + m.unchanged > 0;
  const mapsPart = anyMaps ? `; mappings ${m.created} created, ${m.deleted} deleted` : "";
  if (anyMaps) {
    scope += `, ${m.created + m.unchanged} mapping${m.created + m.unchanged === 1 ? "" : "s"}`;
  }
  if (r.created + r.changed + r.deleted + m.created + m.deleted === 0) {
    lines.push(`unchanged (${scope})`);
  } else {
    lines.push(
      `${dryRun ? "would apply" : "applied"}: ${r.created} created, ${r.changed} changed, ` +
        `${r.deleted} deleted, ${r.unchanged} unchanged${mapsPart} (${scope})`,
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------
// export

const PLAIN = /^[A-Za-z_/@][A-Za-z0-9_./@-]*$|^\d+\.\d+\.\d+\.\d+$/;
const YAML_WORDS = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

/** A string as a YAML scalar: plain when that reads back the same, else double-quoted. */
export function yamlScalar(s: string): string {
  return PLAIN.test(s) && !YAML_WORDS.test(s) ? s : JSON.stringify(s);
}

/** One endpoint as a flow mapping, as in the file format. */
export function formatEndpointYaml(ep: Endpoint): string {
  const f: string[] = [`type: ${ep.type}`];
  if (ep.type === "unix") f.push(`path: ${yamlScalar(ep.path)}`);
  else {
    f.push(`addr: ${yamlScalar(ep.addr)}`, `port: ${ep.port}`);
  }
  if (ep.flags?.length) f.push(`flags: ${yamlScalar(ep.flags.join(" "))}`);
  if (ep.netns !== undefined) f.push(`netns: ${yamlScalar(ep.netns)}`);
  return `{${f.join(", ")}}`;
}

/** A namespace's state as export writes it. */
export interface NamespaceState {
  /** Key: a name, `host` or a PID. */
  netns: string;
  /** Its endpoints. */
  endpoints: Endpoint[];
  /** Its default mappings (broker backend). */
  maps?: NamespaceMaps;
  /** A comment line above it. */
  comment?: string;
}

/** Namespaces (by key) and their endpoints and mappings, as a file. */
export function formatState(state: NamespaceState[], header?: string): string {
  const out: string[] = [];
  if (header) out.push(`# ${header}`);
  if (state.length === 0) {
    out.push("namespaces: {}");
    return out.join("\n") + "\n";
  }
  out.push("namespaces:");
  for (const ns of state) {
    if (ns.comment) out.push(`  # ${ns.comment}`);
    const nmaps = (ns.maps?.ingress.length ?? 0) + (ns.maps?.egress.length ?? 0);
    if (ns.endpoints.length === 0 && nmaps === 0) {
      out.push(`  ${yamlScalar(ns.netns)}: {}`);
      continue;
    }
    out.push(`  ${yamlScalar(ns.netns)}:`);
    if (ns.endpoints.length) out.push("    endpoints:");
    const eps = [...ns.endpoints].sort((a, b) => a.name.localeCompare(b.name));
    const w = Math.max(...eps.map((e) => yamlScalar(e.name).length + 1));
    for (const ep of eps) {
      out.push(`      ${(yamlScalar(ep.name) + ":").padEnd(w)} ${formatEndpointYaml(ep)}`);
    }
    for (const kind of ["ingress", "egress"] as const) {
      const list = ns.maps?.[kind] ?? [];
      if (list.length) out.push(`    ${kind}:`, ...list.map((t) => `      - ${JSON.stringify(t)}`));
    }
  }
  return out.join("\n") + "\n";
}

/**
 * The current endpoints of every namespace, in the `apply` file format.
 * Namespaces are keyed by name, `host`, or the PID of a process in them;
 * one with neither name nor process is listed as a comment.
 */
export function exportState(backend: EndpointBackend): string {
  const scan = scanHost({ sockets: false });
  const byIno = new Map<number, Endpoint[]>();
  const mapsByIno = new Map<number, NamespaceMaps>();
  if (backend.kind === "broker") {
    // The broker knows every namespace's endpoints and mappings: one request.
    for (const ns of brokerStatus().namespaces) {
      byIno.set(ns.ino, ns.endpoints);
      mapsByIno.set(ns.ino, ns.maps);
    }
  } else {
    for (const ns of scan.namespaces.values()) {
      if (!ns.openPath) continue;
      let fd: number;
      try {
        fd = openFd(ns.openPath);
      } catch {
        continue;
      }
      try {
        const eps = backend.list({ netnsFd: fd });
        if (eps.length) byIno.set(ns.ino, eps);
      } finally {
        closeFd(fd);
      }
    }
  }
  const state: NamespaceState[] = [];
  const orphans: string[] = [];
  for (const [ino, endpoints] of byIno) {
    const maps = mapsByIno.get(ino);
    if (endpoints.length === 0 && !maps?.ingress.length && !maps?.egress.length) continue;
    const ns = scan.namespaces.get(ino);
    let key: string | undefined;
    let comment: string | undefined;
    if (ns?.host) key = HOST;
    else if (ns?.names.length) key = ns.names[0];
    else if (ns?.processes.length) {
      key = displayName(ns).slice(4); // "pid:1234" -> "1234"
      comment = `unnamed namespace ${ino}, by the PID of a process in it`;
    }
    if (key === undefined) {
      orphans.push(`${ino} (${endpoints.length} endpoints)`);
      continue;
    }
    state.push({ netns: key, endpoints, maps, comment });
  }
  const rank = (k: string) => (k === HOST ? 0 : /^\d+$/.test(k) ? 2 : 1);
  state.sort((a, b) =>
    rank(a.netns) - rank(b.netns) || a.netns.localeCompare(b.netns, "en", { numeric: true })
  );
  let text = formatState(state, `graft export (${backend.kind} backend)`);
  if (orphans.length) {
    text += `# not exported, no name or process to address them by: ${orphans.join(", ")}\n`;
  }
  return text;
}

/** One namespace in the JSON form of the apply format. */
export interface ExportedNamespace {
  /** Endpoints by name. */
  endpoints: Record<string, Omit<Endpoint, "name">>;
  /** Default ingress mappings. */
  ingress?: string[];
  /** Default egress mappings. */
  egress?: string[];
}

/** The current endpoints as the JSON form of the apply format (`graft -j export`; apply reads it too). */
export function exportObject(
  backend: EndpointBackend,
): { namespaces: Record<string, ExportedNamespace> } {
  const decls = parseApplyText(exportState(backend), "export");
  const obj: Record<string, ExportedNamespace> = {};
  for (const d of decls) {
    const endpoints: Record<string, Omit<Endpoint, "name">> = {};
    for (const { endpoint } of d.endpoints) {
      const { name, ...rest } = endpoint;
      endpoints[name] = rest;
    }
    obj[d.netns] = d.maps ? { endpoints, ...d.maps } : { endpoints };
  }
  return { namespaces: obj };
}
