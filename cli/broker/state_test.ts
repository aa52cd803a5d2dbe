import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { printable } from "../model/errors.ts";
import { closeFd } from "../sys/ffi.ts";
import { netnsIdOfFd, netnsIdOfPath, netnsKey, processStartTime } from "../sys/netns.ts";
import {
  Identifier,
  openRef,
  parseState,
  type State,
  STATE_VERSION,
  StateError,
  StateFile,
} from "./state.ts";

const state: State = {
  version: STATE_VERSION,
  namespaces: [{
    ns: { kind: "named", name: "c1" },
    endpoints: [
      { endpoint: { name: "web", type: "ipv4", addr: "127.0.0.1", port: 8080 } },
      {
        endpoint: { name: "out", type: "ipv6", addr: "::1", port: "dynamic", netns: "c2" },
        target: { kind: "process", pid: 42, start: 7, boot: "b", dev: 4, ino: 4026532000 },
      },
    ],
  }],
};

Deno.test("parseState() reads what formatState() wrote and refuses damage in one line", async (t) => {
  await t.step("round trip", () => assertEquals(parseState(JSON.stringify(state)), state));
  const bad: [string, RegExp][] = [
    ['{"version": 1, "namespaces": [', /^not JSON/],
    ["garbage\u0000\u0001", /^not JSON \(.*\?/],
    ['{"version": 2, "namespaces": []}', /version 2, expected 1/],
    ['{"version": 1}', /"namespaces" is not a list/],
    ['{"version": 1, "namespaces": [{"ns": {"kind": "host"}}]}', /no "endpoints" list/],
    [
      '{"version": 1, "namespaces": [{"ns": {"kind": "named", "name": "../x"}, "endpoints": []}]}',
      /bad namespace name/,
    ],
    [
      '{"version": 1, "namespaces": [{"ns": {"kind": "pid"}, "endpoints": []}]}',
      /unknown namespace kind "pid"/,
    ],
    [
      '{"version": 1, "namespaces": [{"ns": {"kind": "host"}, "endpoints": [{"endpoint": {"name": "x"}}]}]}',
      /endpoints\[0\]/,
    ],
  ];
  for (const [text, re] of bad) {
    await t.step(text.slice(0, 40), () => {
      throws(() => parseState(text), (e) => {
        const m = (e as Error).message;
        return e instanceof StateError && re.test(m) && printable(m) === m;
      });
    });
  }
});

Deno.test("StateFile writes atomically with a copy, and a damaged file falls back to the copy", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const f = new StateFile(`${dir}/sub/state.json`);
    assertEquals(f.load().from, "none");
    assertEquals(f.save(state), undefined);
    assertEquals(f.health.ok, true);
    assertEquals(f.health.endpoints, 2);
    assertEquals(parseState(Deno.readTextFileSync(`${dir}/sub/state.json.bak`)), state);
    const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name).sort();
    assertEquals(names, ["state.json", "state.json.bak"]); // no temporary file left
    Deno.writeTextFileSync(`${dir}/sub/state.json`, '{"version": 1, "names');
    const l = new StateFile(`${dir}/sub/state.json`).load();
    assertEquals(l.from, "bak");
    assertEquals(l.state, state);
    ok(l.problem?.includes("kept as") && l.problem.includes("using its copy"), l.problem);
    ok([...Deno.readDirSync(`${dir}/sub`)].some((e) => e.name.startsWith("state.json.corrupt-")));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("StateFile.save() reports an unwritable place in one line and keeps going", () => {
  const f = new StateFile("/proc/graft-no/state.json");
  const err = f.save(state);
  ok(err?.startsWith("cannot write /proc/graft-no/state.json:"), err);
  assertEquals(f.health.ok, false);
});

Deno.test("a process reference finds its namespace only while that process lives", () => {
  const key = netnsKey(netnsIdOfPath("/proc/self/ns/net")!);
  const id = netnsIdOfPath("/proc/self/ns/net")!;
  const start = processStartTime(Deno.pid)!;
  const ref = {
    kind: "process" as const,
    pid: Deno.pid,
    start,
    boot: "",
    dev: id.dev,
    ino: id.ino,
  };
  ok(typeof openRef({ ...ref, start: start + 1, boot: readBoot() }) === "string");
  ok(String(openRef({ ...ref, boot: "another-boot" })).includes("before a reboot"));
  const fd = openRef({ ...ref, boot: readBoot() });
  ok(typeof fd === "number", String(fd));
  assertEquals(netnsKey(netnsIdOfFd(fd)), key);
  closeFd(fd);
  ok(String(openRef({ kind: "none", dev: 1, ino: 2 })).includes("no name and no process"));
  // The broker's own PID is never chosen: it will not be there after a restart.
  const mine = new Identifier().identify(key);
  ok(mine.kind !== "process" || mine.pid !== Deno.pid);
});

function readBoot(): string {
  return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
}
