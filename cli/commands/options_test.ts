import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { UsageError } from "../model/errors.ts";
import { HelpRequested, parseGlobals, parseJsonOnly, parseOptions } from "./options.ts";
import { parseRunArgs } from "./run.ts";
import { main } from "../main.ts";

const usage = (re: RegExp) => (e: unknown) =>
  e instanceof UsageError && e.exitCode === 2 && re.test(e.message);

Deno.test("parseGlobals() reads the options before the command and stops at it", () => {
  const { globals, rest } = parseGlobals([
    "-n",
    "c1",
    "--backend=broker",
    "-j",
    "ep",
    "show",
    "-j",
  ]);
  assertEquals(globals, { netns: "c1", backend: "broker", json: true });
  assertEquals(rest, ["ep", "show", "-j"]);
  assertEquals(parseGlobals(["--netns=x", "version"]).globals.netns, "x");
  assertEquals(parseGlobals(["-h"]).rest, ["help"]);
  throws(() => parseGlobals(["--backend", "ipx", "ep"]), usage(/unknown backend "ipx"/));
  throws(() => parseGlobals(["-n"]), usage(/-n needs a value/));
  throws(() => parseGlobals(["-q", "ep"]), usage(/unknown option "-q"/));
});

Deno.test("a global option after the command says where it belongs", async (t) => {
  const ctx = { command: "ep show", usage: "graft ep show [NAME]" };
  const cases: [string[], RegExp][] = [
    [["-n", "c1"], /^-n is a global option: put it before the command \(graft -n c1 ep show/],
    [["--netns=c1"], /^--netns is a global option: .*\(graft --netns c1 ep show/],
    [["--backend", "kernel"], /^--backend is a global option: .*\(graft --backend kernel ep show/],
    [["-bbroker"], /^-b is a global option: .*\(graft -b broker ep show/],
  ];
  for (const [args, re] of cases) {
    await t.step(args.join(" "), () => throws(() => parseOptions({}, args, ctx), usage(re)));
  }
});

Deno.test("parseOptions() reads long, short, glued and repeated options", () => {
  const spec = {
    socket: { long: "socket", short: "s", value: "a path" },
    verbose: { long: "verbose", short: "v" },
    file: { long: "file", short: "f", value: "a file", aliases: ["filename"] },
  };
  const ctx = { command: "x", usage: "graft x" };
  assertEquals(parseOptions(spec, ["--socket=/a", "-v", "w1", "--filename", "f"], ctx), {
    values: { socket: "/a", verbose: true, file: "f" },
    words: ["w1"],
  });
  assertEquals(parseOptions(spec, ["-s/b", "--", "-v"], ctx).words, ["-v"]);
  throws(() => parseOptions(spec, ["--socket"], ctx), usage(/--socket needs a path/));
  throws(() => parseOptions(spec, ["--sock"], ctx), usage(/unknown x option "--sock"/));
  throws(() => parseOptions(spec, ["-h"], ctx), (e) => e instanceof HelpRequested);
});

Deno.test("parseRunArgs() keeps the program's own options and collects mappings in order", () => {
  const r = parseRunArgs([
    "-i",
    "0.0.0.0:80=a",
    "-i0.0.0.0:81=b",
    "-v",
    "-e",
    "10.0.0.0/8=c",
    "ls",
    "-l",
  ]);
  assertEquals(r.ingress.map((m) => m.ep), ["a", "b"]);
  assertEquals(r.egress.map((m) => m.prefix), ["10.0.0.0"]);
  assertEquals(r.verbose, true);
  assertEquals(r.cmd, ["ls", "-l"]);
  assertEquals(parseRunArgs(["--", "-x"]).cmd, ["-x"]);
  throws(() => parseRunArgs(["-i", "0.0.0.0:1=ep", "--"]), usage(/no command/));
  throws(() => parseRunArgs(["-n", "c1", "--", "ls"]), usage(/-n is a global option/));
});

Deno.test("parseRunArgs() --names: program by default, host on request, nothing else", () => {
  assertEquals(parseRunArgs(["--", "true"]).names, "program");
  assertEquals(parseRunArgs(["--names", "host", "--", "true"]).names, "host");
  assertEquals(parseRunArgs(["--names=program", "true"]).names, "program");
  throws(() => parseRunArgs(["--names", "guest", "--", "true"]), usage(/--names/));
});

Deno.test("main() exits 2 for usage, 0 for help", async () => {
  const quiet = console.error;
  const log = console.log;
  console.error = console.log = () => {};
  try {
    assertEquals(await main(["ep", "show", "-n", "c1"]), 2);
    assertEquals(await main(["frobnicate"]), 2);
    assertEquals(await main([]), 2);
    assertEquals(await main(["run", "--help"]), 0);
    assertEquals(await main(["--help"]), 0);
  } finally {
    console.error = quiet;
    console.log = log;
  }
});

Deno.test("parseJsonOnly() takes -j here or as the global option and counts the words", () => {
  const ctx = { command: "ep show", usage: "graft ep show [NAME] [-j]" };
  const g = { backend: "auto", json: false } as const;
  assertEquals(parseJsonOnly(g, ["web"], ctx, 1), { json: false, words: ["web"] });
  assertEquals(parseJsonOnly(g, ["-j"], ctx, 1), { json: true, words: [] });
  assertEquals(parseJsonOnly({ ...g, json: true }, [], ctx), { json: true, words: [] });
  throws(() => parseJsonOnly(g, ["web", "db"], ctx, 1), usage(/^unexpected "db"; usage: graft ep/));
});
