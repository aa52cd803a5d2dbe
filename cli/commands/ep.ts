/**
 * `graft ep add|del|show`: endpoints of a namespace.
 *
 * @module
 */

import { addEndpoint, deleteEndpoint, listEndpoints } from "../api/endpoints.ts";
import { formatEndpoint, parseEndpointWords, validateName } from "../model/endpoint.ts";
import { GraftError, UsageError } from "../model/errors.ts";
import {
  addDelShow,
  type Command,
  type GlobalOptions,
  parseJsonOnly,
  parseOptions,
} from "./options.ts";

const USAGE_ADD = "graft ep add NAME type ipv4|ipv6 addr ADDR port PORT|dynamic [netns NETNS]\n" +
  "       graft ep add NAME type unix path PATH [netns NETNS]";
const USAGE_DEL = "graft ep del NAME";
const USAGE_SHOW = "graft ep show [NAME] [-j]";

function add(g: GlobalOptions, args: string[]): number {
  const { words } = parseOptions({}, args, { command: "ep add", usage: USAGE_ADD });
  addEndpoint(parseEndpointWords(words), { netns: g.netns, backend: g.backend });
  return 0;
}

function del(g: GlobalOptions, args: string[]): number {
  const { words } = parseOptions({}, args, { command: "ep del", usage: USAGE_DEL });
  if (words.length !== 1) throw new UsageError(`usage: ${USAGE_DEL}`);
  deleteEndpoint(validateName(words[0]), { netns: g.netns, backend: g.backend });
  return 0;
}

function show(g: GlobalOptions, args: string[]): number {
  const { json, words: [name] } = parseJsonOnly(g, args, {
    command: "ep show",
    usage: USAGE_SHOW,
  }, 1);
  let eps = listEndpoints({ netns: g.netns, backend: g.backend });
  if (name !== undefined) {
    eps = eps.filter((e) => e.name === name);
    if (eps.length === 0) throw new GraftError(`no endpoint "${name}" here`);
  }
  if (json) console.log(JSON.stringify(eps, null, 2));
  else for (const e of eps) console.log(formatEndpoint(e));
  return 0;
}

/** `graft ep ...`. */
export const epCommand: Command = addDelShow("ep", [USAGE_ADD, USAGE_DEL, USAGE_SHOW], {
  add,
  del,
  show,
});
