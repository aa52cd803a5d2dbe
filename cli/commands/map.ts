/**
 * `graft map add|del|show`: a namespace's default mappings, used by a
 * conversion engine for a program that brings no `-i`/`-e` of its own.
 *
 * @module
 */

import { addMapping, deleteMapping, listMappings } from "../api/endpoints.ts";
import { UsageError } from "../model/errors.ts";
import type { MapKind } from "../model/nsmap.ts";
import {
  addDelShow,
  type Command,
  type GlobalOptions,
  list,
  parseJsonOnly,
  parseOptions,
} from "./options.ts";

const USAGE_ADD = "graft map add -i ADDR:PORT[-PORT]=EP | -e PREFIX/LEN=EP";
const USAGE_DEL = "graft map del -i ADDR:PORT[-PORT]=EP | -e PREFIX/LEN=EP";
const USAGE_SHOW = "graft map show [-j]";

/** The mappings named on the command line, each with its kind. */
function mappingArgs(args: string[], command: string, usage: string): [MapKind, string][] {
  const p = parseOptions(
    {
      ingress: { long: "ingress", short: "i", value: "a mapping" },
      egress: { long: "egress", short: "e", value: "a mapping" },
    },
    args,
    { command, usage, lists: ["ingress", "egress"] },
  );
  if (p.words.length > 0) throw new UsageError(`graft ${command}: unexpected "${p.words[0]}"`);
  const out: [MapKind, string][] = [
    ...list(p, "ingress").map((t): [MapKind, string] => ["ingress", t]),
    ...list(p, "egress").map((t): [MapKind, string] => ["egress", t]),
  ];
  if (out.length === 0) throw new UsageError(`usage: ${usage}`);
  return out;
}

function add(g: GlobalOptions, args: string[]): number {
  for (const [kind, text] of mappingArgs(args, "map add", USAGE_ADD)) {
    addMapping(kind, text, { netns: g.netns, backend: g.backend });
  }
  return 0;
}

function del(g: GlobalOptions, args: string[]): number {
  for (const [kind, text] of mappingArgs(args, "map del", USAGE_DEL)) {
    deleteMapping(kind, text, { netns: g.netns, backend: g.backend });
  }
  return 0;
}

function show(g: GlobalOptions, args: string[]): number {
  const { json } = parseJsonOnly(g, args, { command: "map show", usage: USAGE_SHOW });
  const maps = listMappings({ netns: g.netns, backend: g.backend });
  if (json) {
    console.log(JSON.stringify(maps, null, 2));
  } else {
    for (const t of maps.ingress) console.log(`-i ${t}`);
    for (const t of maps.egress) console.log(`-e ${t}`);
  }
  return 0;
}

/** `graft map ...`. */
export const mapCommand: Command = addDelShow("map", [USAGE_ADD, USAGE_DEL, USAGE_SHOW], {
  add,
  del,
  show,
});
