/**
 * The one option parser every command uses, and the global options.
 *
 * Options are declared as a table ({@link OptionSpec}); `--long`, `--long=V`,
 * `-s`, `-sV` and `-s V` are understood. A global option (`-n`, `--backend`)
 * given after the command gets a message saying where it belongs.
 *
 * @module
 */

import type { BackendChoice } from "../backends/backend.ts";
import { UsageError } from "../model/errors.ts";

/** Options that come before the command. */
export interface GlobalOptions {
  /** -n NETNS: act inside this namespace. */
  netns?: string;
  /** --backend: where endpoints are kept. */
  backend: BackendChoice;
  /** -j / --json: print JSON. */
  json: boolean;
}

/** One option: its long name, an optional short letter, and the name of its value if it takes one. */
export interface OptionDef {
  /** Long form without the dashes: "socket" for --socket. */
  long: string;
  /** Short form without the dash: "s" for -s. */
  short?: string;
  /** The value's name in messages ("PATH"); absent for a flag. */
  value?: string;
  /** Other long or short spellings ("file", "filename"; "a"). */
  aliases?: string[];
}

/** A command's options, by the key their value is stored under. */
export type OptionSpec = Record<string, OptionDef>;

/** What {@link parseOptions} found: option values (last one wins; `list` keys collect) and the rest. */
export interface ParsedOptions {
  /** Flags are `true`, value options a string; repeated options of a list key collect in order. */
  values: Record<string, string | boolean | string[]>;
  /** Words that are not options (with `stopAtWord`: the first such word and everything after). */
  words: string[];
}

/** A command in the table of cli/main.ts. */
export interface Command {
  /** One usage line (or a few), without "usage: ". */
  usage: string;
  /** Run with the global options and the words after the command name; returns the exit status. */
  run(g: GlobalOptions, args: string[]): number | Promise<number>;
}

/** Thrown by {@link parseOptions} for -h/--help after a command: main prints the usage. */
export class HelpRequested extends Error {
  /** The command's usage. */
  constructor(readonly usage: string) {
    super(usage);
    this.name = "HelpRequested";
  }
}

/** The global options, as a spec (also used to recognise them when misplaced). */
export const GLOBAL_SPEC: OptionSpec = {
  netns: { long: "netns", short: "n", value: "NETNS" },
  backend: { long: "backend", short: "b", value: "auto|kernel|broker" },
  json: { long: "json", short: "j" },
};

/** How {@link parseOptions} reads one command's arguments. */
export interface ParseContext {
  /** The command words for messages: "ep show", "run". */
  command: string;
  /** The command's usage, appended to messages about unknown options. */
  usage: string;
  /** Stop at the first word that is not an option (`run`: the program starts there). */
  stopAtWord?: boolean;
  /** Keys whose repeated values collect into a list (`run -i ... -i ...`). */
  lists?: string[];
}

interface Match {
  key: string;
  def: OptionDef;
  inline?: string;
}

function find(spec: OptionSpec, token: string): Match | undefined {
  const long = token.startsWith("--");
  const body = long ? token.slice(2) : token.slice(1);
  for (const [key, def] of Object.entries(spec)) {
    const names = [def.long, def.short, ...(def.aliases ?? [])].filter((n) => n !== undefined);
    for (const n of names) {
      const isLong = n.length > 1;
      if (long !== isLong) continue;
      if (body === n) return { key, def };
      if (def.value === undefined) continue;
      if (isLong && body.startsWith(`${n}=`)) return { key, def, inline: body.slice(n.length + 1) };
      if (!isLong && body.startsWith(n) && body.length > n.length) {
        return { key, def, inline: body.slice(n.length) };
      }
    }
  }
  return undefined;
}

/** The message for a global option given after the command. */
function misplacedGlobal(m: Match, token: string, value: string | undefined, ctx: ParseContext) {
  const flag = token.startsWith("--") ? `--${m.def.long}` : `-${m.def.short}`;
  const example = ["graft", flag, ...(m.def.value ? [value ?? m.def.value] : []), ctx.command];
  return new UsageError(
    `${flag} is a global option: put it before the command (${example.join(" ")} ...)`,
  );
}

/**
 * Parse a command's arguments against `spec`. Throws a UsageError naming the
 * problem (an unknown option, a missing value, a global option out of place)
 * and {@link HelpRequested} for -h/--help.
 */
export function parseOptions(spec: OptionSpec, args: string[], ctx: ParseContext): ParsedOptions {
  const values: ParsedOptions["values"] = {};
  for (const k of ctx.lists ?? []) values[k] = [];
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      words.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      if (ctx.stopAtWord) {
        words.push(...args.slice(i));
        break;
      }
      words.push(a);
      continue;
    }
    if (a === "-h" || a === "--help") throw new HelpRequested(ctx.usage);
    const m = find(spec, a);
    if (!m) {
      const g = find(GLOBAL_SPEC, a);
      if (g) throw misplacedGlobal(g, a, g.inline ?? args[i + 1], ctx);
      throw new UsageError(`unknown ${ctx.command} option "${a}"; usage: ${ctx.usage}`);
    }
    let v: string | boolean = true;
    if (m.def.value !== undefined) {
      if (m.inline !== undefined) v = m.inline;
      else if (i + 1 < args.length) v = args[++i];
      else throw new UsageError(`${a} needs ${m.def.value}; usage: ${ctx.usage}`);
    }
    const list = values[m.key];
    if (Array.isArray(list)) list.push(String(v));
    else values[m.key] = v;
  }
  return { values, words };
}

/** A string option's value, or undefined. */
export function str(p: ParsedOptions, key: string): string | undefined {
  const v = p.values[key];
  return typeof v === "string" ? v : undefined;
}

/** A list option's values. */
export function list(p: ParsedOptions, key: string): string[] {
  const v = p.values[key];
  return Array.isArray(v) ? v : [];
}

/**
 * Parse the arguments of a command whose one option is -j/--json: JSON is
 * asked for here or as the global option; more than `maxWords` words is a
 * usage error naming the first one too many.
 */
export function parseJsonOnly(
  g: GlobalOptions,
  args: string[],
  ctx: ParseContext,
  maxWords = 0,
): { json: boolean; words: string[] } {
  const p = parseOptions({ json: GLOBAL_SPEC.json }, args, ctx);
  if (p.words.length > maxWords) {
    throw new UsageError(`unexpected "${p.words[maxWords]}"; usage: ${ctx.usage}`);
  }
  return { json: g.json || p.values.json === true, words: p.words };
}

/** Split the global options from the command and its arguments. */
export function parseGlobals(argv: string[]): { globals: GlobalOptions; rest: string[] } {
  const spec: OptionSpec = {
    ...GLOBAL_SPEC,
    help: { long: "help", short: "h" },
    version: { long: "version", short: "V" },
  };
  const globals: GlobalOptions = { backend: "auto", json: false };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("-") || a === "-") break;
    const m = find(spec, a);
    if (!m) throw new UsageError(`unknown option "${a}"`);
    if (m.key === "help") return { globals, rest: ["help"] };
    if (m.key === "version") return { globals, rest: ["version"] };
    if (m.key === "json") {
      globals.json = true;
      continue;
    }
    let v = m.inline;
    if (v === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      v = argv[++i];
    }
    if (m.key === "netns") globals.netns = v;
    else globals.backend = v as BackendChoice;
  }
  if (!["auto", "kernel", "broker"].includes(globals.backend)) {
    throw new UsageError(`unknown backend "${globals.backend}" (auto, kernel or broker)`);
  }
  return { globals, rest: argv.slice(i) };
}

/** One subcommand of an add/del/show group: runs with the global options and its words. */
export type Subcommand = (g: GlobalOptions, args: string[]) => number;

/**
 * A command made of `add`, `del` and `show` (`graft ep`, `graft map`): the
 * first word picks the subcommand (`show` when there is none); `delete` and
 * `list` are accepted for `del` and `show`.
 */
export function addDelShow(
  group: string,
  usages: string[],
  subs: { add: Subcommand; del: Subcommand; show: Subcommand },
): Command {
  const table: Record<string, Subcommand> = { ...subs, delete: subs.del, list: subs.show };
  return {
    usage: usages.join("\n       "),
    run(g, args) {
      const [sub = "show", ...rest] = args;
      const fn = table[sub];
      if (!fn) throw new UsageError(`unknown ${group} command "${sub}" (add, del, show)`);
      return fn(g, rest);
    },
  };
}
