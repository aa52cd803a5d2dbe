/**
 * The broker backend: endpoints kept by `graft daemon`, reached over its
 * socket (cli/broker/client.ts).
 *
 * @module
 */

import {
  brokerAdd,
  brokerDel,
  brokerList,
  brokerMapAdd,
  brokerMapDel,
  brokerMapList,
  type LabelledFd,
} from "../broker/client.ts";
import { closeFd } from "../sys/ffi.ts";
import { openNetns } from "../sys/netns.ts";
import type { EndpointBackend, Where } from "./backend.ts";

/** The broker backend: endpoints live in `graft daemon`. */
export const brokerBackend: EndpointBackend = {
  kind: "broker",
  add(ep, where) {
    const target = ep.netns !== undefined ? openNetns(ep.netns) : undefined;
    try {
      const fds: LabelledFd[] = actFds(where);
      if (target !== undefined) fds.push({ label: "target", fd: target });
      brokerAdd(ep, fds);
    } finally {
      if (target !== undefined) closeFd(target);
    }
  },
  del(name, where) {
    brokerDel(name, actFds(where));
  },
  list(where) {
    return brokerList(actFds(where));
  },
  mapAdd(kind, mapping, where) {
    brokerMapAdd(kind, mapping, actFds(where));
  },
  mapDel(kind, mapping, where) {
    brokerMapDel(kind, mapping, actFds(where));
  },
  mapList(where) {
    return brokerMapList(actFds(where));
  },
};

function actFds(where: Where): LabelledFd[] {
  return where.netnsFd !== undefined ? [{ label: "act", fd: where.netnsFd }] : [];
}
