/**
 * The seccomp engine as a service of the broker: the agent socket where
 * listeners arrive, and the supervisor serving them, both on the broker's
 * thread (see {@link PollSource}).
 *
 * @module
 */

import { parseEgress, parseIngress } from "../../model/mapping.ts";
import type { PeerCred } from "../../sys/unix.ts";
import type { Broker, PollSource } from "../server.ts";
import { AgentSocket, type Handover } from "./agent.ts";
import { parseMetadata } from "./match.ts";
import { type GraftRequest, type SeccompStats, SeccompSupervisor } from "./supervisor.ts";

/** The seccomp socket that goes with a broker socket: graft.sock -> graft.seccomp.sock. */
export function seccompSocketFor(brokerSocket: string): string {
  return brokerSocket.endsWith(".sock")
    ? brokerSocket.slice(0, -5) + ".seccomp.sock"
    : brokerSocket + ".seccomp";
}

/** The credentials of a trapped process, for the broker's checks (privileged ports). */
function credOf(pid: number): PeerCred {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? 65534);
    const gid = Number(/^Gid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? 65534);
    return { pid, uid, gid };
  } catch {
    return { pid, uid: 65534, gid: 65534 };
  }
}

/** Start the seccomp engine on `path` and attach it to `broker`. */
export function attachSeccomp(
  broker: Broker,
  path: string,
  log: (line: string) => void,
  verbose: boolean,
): { stats: SeccompStats } {
  const agent = new AgentSocket(path);
  const supervisor = new SeccompSupervisor({
    hasEndpoints: (key) => broker.hasEndpoints(key),
    mapsOf: (key) => {
      const m = broker.mapsOf(key);
      return { ingress: m.ingress.map(parseIngress), egress: m.egress.map(parseEgress) };
    },
    graft: (key: string, req: GraftRequest, pid: number) => broker.graftFor(key, credOf(pid), req),
    log,
    trace: (line) => verbose && log(line()),
  });
  const take = (h: Handover): string | undefined => {
    try {
      const m = parseMetadata(h.metadata, parseIngress, parseEgress);
      supervisor.add(h.listener, h.label, m.ingress, m.egress, m.namesHost);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const source: PollSource = {
    fds: () => [...agent.fds(), ...supervisor.fds()],
    handle(fd, revents) {
      if (agent.owns(fd)) {
        agent.handle(fd, take, log);
        return true;
      }
      return supervisor.handle(fd, revents);
    },
    tick() {
      agent.expire();
      supervisor.tick();
    },
    pending: () => supervisor.pending(),
    close() {
      supervisor.close();
      agent.close();
    },
  };
  broker.attach(source);
  log(`seccomp agent listening on ${path}`);
  return { stats: supervisor.stats };
}
