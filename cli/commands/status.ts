/**
 * `graft status`: the broker's health: uptime, clients, grafts served,
 * refusals by reason, and the state file.
 *
 * @module
 */

import { brokerSocketPath, type BrokerStatus, brokerStatus } from "../broker/client.ts";
import { UsageError } from "../model/errors.ts";
import { type Command, parseJsonOnly } from "./options.ts";

const USAGE = "graft status [-j]";

/** "3d 4h", "2h 5m", "4m 10s", "12s". */
export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60];
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** The status as lines of text. */
export function formatStatus(st: BrokerStatus, socket: string): string[] {
  const eps = st.namespaces.reduce((n, ns) => n + ns.endpoints.length, 0);
  const reasons = Object.entries(st.refusedBy).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`).join(", ");
  const s = st.stats;
  const lines = [
    `broker: pid ${st.pid}, up ${formatUptime(st.uptimeMs ?? 0)}, ${socket}` +
    (st.activated ? " (socket activation)" : ""),
    `clients: ${st.clients ?? "?"} connected`,
    `grafts: ${s.sockets ?? 0} sockets served, ${s.refused ?? 0} refused` +
    (reasons ? ` (${reasons})` : "") + `, ${s.malformed ?? 0} malformed requests`,
    `endpoints: ${eps} in ${st.namespaces.length} namespace(s)`,
  ];
  const h = st.state;
  if (h === null || h === undefined) lines.push("state: none (endpoints are not saved)");
  else if (h.ok) {
    const when = h.savedAt ? `, saved ${new Date(h.savedAt).toISOString()}` : "";
    lines.push(`state: ${h.path}: ok, ${h.endpoints} endpoint(s)${when}`);
  } else lines.push(`state: ${h.path}: FAILING: ${h.error}`);
  if (h?.corruptKeptAs) lines.push(`state: a corrupt file was kept as ${h.corruptKeptAs}`);
  return lines;
}

/** `graft status`. */
export const statusCommand: Command = {
  usage: USAGE,
  run(g, args) {
    const { json } = parseJsonOnly(g, args, { command: "status", usage: USAGE });
    if (g.netns !== undefined) throw new UsageError("status is the broker's; drop -n");
    const st = brokerStatus();
    if (json) {
      const { namespaces, ...rest } = st;
      const endpoints = namespaces.reduce((n, ns) => n + ns.endpoints.length, 0);
      console.log(JSON.stringify({ ...rest, namespaces: namespaces.length, endpoints }, null, 2));
    } else {
      for (const l of formatStatus(st, brokerSocketPath())) {
        console.log(l);
      }
    }
    return 0;
  },
};
