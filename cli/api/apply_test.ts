import { deepStrictEqual as assertEquals, ok, throws as assertThrows } from "node:assert/strict";
import {
  ApplyFileError,
  applyText,
  formatApplyResult,
  formatState,
  parseApplyText,
  yamlScalar,
} from "./apply.ts";
import type { EndpointBackend } from "../backends/backend.ts";
import { type Endpoint, formatEndpoint } from "../model/endpoint.ts";
import type { NamespaceMaps } from "../model/nsmap.ts";
import { netnsIdOfPath } from "../sys/netns.ts";

const GOOD = `# three endpoints
namespaces:
  c1:
    endpoints:
      ep-in:  {type: ipv4, addr: 127.0.0.1, port: 8080}
      ep-out: {type: ipv4, addr: 127.0.0.1, port: dynamic}
      ep-app: {type: unix, path: /run/app.sock, netns: host}
  c2:
    endpoints:
      ep6:
        type: ipv6
        addr: "0:0::1"
        port: 443
        netns: c1
  c3: {}
`;

function problemsOf(text: string): ApplyFileError {
  try {
    parseApplyText(text, "f.yaml");
  } catch (e) {
    if (e instanceof ApplyFileError) return e;
    throw e;
  }
  throw new Error("no problem found");
}

Deno.test("parseApplyText() reads namespaces and endpoints with their lines", () => {
  const d = parseApplyText(GOOD, "f.yaml");
  assertEquals(d.map((n) => [n.netns, n.line, n.endpoints.length]), [
    ["c1", 3, 3],
    ["c2", 8, 1],
    ["c3", 15, 0],
  ]);
  assertEquals(d[0].endpoints.map((e) => [formatEndpoint(e.endpoint), e.line]), [
    ["ep-in type ipv4 addr 127.0.0.1 port 8080", 5],
    ["ep-out type ipv4 addr 127.0.0.1 port dynamic", 6],
    ["ep-app type unix path /run/app.sock", 7], // netns: host is the default
  ]);
  assertEquals(
    formatEndpoint(d[1].endpoints[0].endpoint),
    "ep6 type ipv6 addr ::1 port 443 netns c1",
  );
  assertEquals(parseApplyText("", "f"), []);
  assertEquals(parseApplyText("namespaces:\n", "f"), []);
});

Deno.test("parseApplyText() names the line and field of every problem", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "bad port among good entries",
      "namespaces:\n  c1:\n    endpoints:\n      a: {type: ipv4, addr: 127.0.0.1, port: 80}\n" +
      "      b: {type: ipv4, addr: 127.0.0.1, port: 99999}\n",
      /^f\.yaml:5:\d+: namespaces\.c1\.endpoints\.b\.port: bad port "99999"/,
    ],
    [
      "address of the wrong family, type given after it",
      "namespaces:\n  c1:\n    endpoints:\n      a: {addr: '::1', type: ipv4, port: 1}\n",
      /^f\.yaml:4:\d+: namespaces\.c1\.endpoints\.a\.addr: "::1" is not an ipv4 address/,
    ],
    [
      "missing field points at the endpoint",
      "namespaces:\n  c1:\n    endpoints:\n      a: {type: ipv4, addr: 127.0.0.1}\n",
      /^f\.yaml:4:7: namespaces\.c1\.endpoints\.a: "port" is required/,
    ],
    [
      "unknown field",
      "namespaces:\n  c1:\n    endpoints:\n      a: {type: unix, path: /x, colour: red}\n",
      /f\.yaml:4:\d+: namespaces\.c1\.endpoints\.a\.colour: unknown field "colour"/,
    ],
    [
      "a hex port is not a port",
      "namespaces:\n  c1:\n    endpoints:\n      a: {type: ipv4, addr: 127.0.0.1, port: 0x50}\n",
      /a\.port: bad port "0x50"/,
    ],
    [
      "name too long",
      "namespaces:\n  c1:\n    endpoints:\n      abcdefghijklmnop: {type: unix, path: /x}\n",
      /^f\.yaml:4:7: .*16 bytes; the limit is 15/,
    ],
    [
      "duplicate endpoint",
      "namespaces:\n  c1:\n    endpoints:\n      a: {type: unix, path: /x}\n      a: {type: unix, path: /y}\n",
      /^f\.yaml:5:7: Map keys must be unique/,
    ],
    [
      "unknown top-level key",
      "namespace:\n  c1: {}\n",
      /^f\.yaml:1:1: namespace: unknown key "namespace"/,
    ],
    [
      "endpoints not a mapping",
      "namespaces:\n  c1:\n    endpoints: [a, b]\n",
      /^f\.yaml:3:16: namespaces\.c1\.endpoints: expected a mapping/,
    ],
    [
      "syntax error",
      "namespaces:\n  c1: {type: [\n",
      /^f\.yaml:\d+:\d+: /,
    ],
  ];
  for (const [what, text, re] of cases) {
    await t.step(what, () => {
      const e = problemsOf(text);
      ok(re.test(e.message), e.message);
      ok(e.message.endsWith("nothing applied"), e.message);
      ok(!e.message.includes("\n"), "one line");
      assertEquals(e.exitCode, 1);
    });
  }
  await t.step("every problem is collected, in line order", () => {
    const e = problemsOf(
      "namespaces:\n  c1:\n    endpoints:\n      a: {type: ipv5}\n      b: {type: ipv4, addr: 1.2.3.4, port: x}\n",
    );
    assertEquals(e.problems.map((p) => [p.line, p.field]), [
      [4, "namespaces.c1.endpoints.a.type"],
      [5, "namespaces.c1.endpoints.b.port"],
    ]);
  });
});

Deno.test("yamlScalar() quotes what would not read back as the same string", () => {
  assertEquals(
    ["c1", "127.0.0.1", "::1", "1234", "true", "/run/a b", "/run/app.sock", "ep-x"].map(yamlScalar),
    ["c1", "127.0.0.1", '"::1"', '"1234"', '"true"', '"/run/a b"', "/run/app.sock", "ep-x"],
  );
});

Deno.test("formatState() output parses back to the same endpoints", () => {
  const eps: Endpoint[] = [
    { name: "ep-in", type: "ipv4", addr: "127.0.0.1", port: 8080 },
    { name: "ep6", type: "ipv6", addr: "::1", port: "dynamic", netns: "c2" },
    { name: "ep-app", type: "unix", path: "/run/app sock", netns: "1234" },
    { name: "123", type: "ipv4", addr: "10.0.0.1", port: 1 },
  ];
  const text = formatState([{ netns: "c1", endpoints: eps }, { netns: "42", endpoints: [] }]);
  const back = parseApplyText(text, "x");
  assertEquals(back.map((n) => n.netns), ["c1", "42"]);
  assertEquals(
    back[0].endpoints.map((e) => formatEndpoint(e.endpoint)).sort(),
    eps.map(formatEndpoint).sort(),
  );
  assertEquals(formatState([]), "namespaces: {}\n");
});

/** An in-memory backend keyed by namespace inode. */
function fakeBackend(): EndpointBackend & { ops: string[]; state: Map<number, Endpoint[]> } {
  const state = new Map<number, Endpoint[]>();
  const maps = new Map<number, NamespaceMaps>();
  const ops: string[] = [];
  const ino = (fd?: number) => netnsIdOfPath(`/proc/self/fd/${fd}`)!.ino;
  return {
    kind: "broker",
    ops,
    state,
    add(ep, where) {
      const l = state.get(ino(where.netnsFd)) ?? [];
      if (l.some((e) => e.name === ep.name)) throw new Error("EEXIST");
      l.push(ep);
      state.set(ino(where.netnsFd), l);
      ops.push(`add ${ep.name}`);
    },
    del(name, where) {
      const l = state.get(ino(where.netnsFd)) ?? [];
      state.set(ino(where.netnsFd), l.filter((e) => e.name !== name));
      ops.push(`del ${name}`);
    },
    list(where) {
      return [...(state.get(ino(where.netnsFd)) ?? [])];
    },
    mapAdd(kind, text, where) {
      const m = maps.get(ino(where.netnsFd)) ?? { ingress: [], egress: [] };
      m[kind].push(text);
      maps.set(ino(where.netnsFd), m);
      ops.push(`map add ${kind} ${text}`);
    },
    mapDel(kind, text, where) {
      const m = maps.get(ino(where.netnsFd)) ?? { ingress: [], egress: [] };
      m[kind] = m[kind].filter((t) => t !== text);
      ops.push(`map del ${kind} ${text}`);
    },
    mapList(where) {
      const m = maps.get(ino(where.netnsFd)) ?? { ingress: [], egress: [] };
      return { ingress: [...m.ingress], egress: [...m.egress] };
    },
  };
}

const HOST_FILE = (port: number, extra = "") =>
  `namespaces:\n  host:\n    endpoints:\n      a: {type: ipv4, addr: 127.0.0.1, port: ${port}}\n` +
  `      b: {type: unix, path: /run/b.sock}\n${extra}`;

Deno.test({
  name: "applyText() is idempotent, replaces changed endpoints, and prunes only with --prune",
  ignore: Deno.uid() !== 0,
  fn: () => {
    const backend = fakeBackend();
    const r1 = applyText(HOST_FILE(80), "f", { backend });
    assertEquals([r1.created, r1.unchanged], [2, 0]);
    const r2 = applyText(HOST_FILE(80), "f", { backend });
    assertEquals([r2.created, r2.changed, r2.deleted, r2.unchanged], [0, 0, 0, 2]);
    assertEquals(formatApplyResult(r2), "unchanged (2 endpoints in 1 namespace)");
    const r3 = applyText(HOST_FILE(81), "f", { backend });
    assertEquals(formatApplyResult(r3).split("\n"), [
      "host: a changed",
      "applied: 0 created, 1 changed, 0 deleted, 1 unchanged (2 endpoints in 1 namespace)",
    ]);
    backend.ops.length = 0;
    const only =
      "namespaces:\n  host:\n    endpoints:\n      a: {type: ipv4, addr: 127.0.0.1, port: 81}\n";
    assertEquals(applyText(only, "f", { backend }).deleted, 0);
    const dry = applyText(only, "f", { backend, prune: true, dryRun: true });
    assertEquals([dry.deleted, backend.ops], [1, []]);
    const r4 = applyText(only, "f", { backend, prune: true });
    assertEquals([r4.deleted, backend.ops], [1, ["del b"]]);
  },
});

Deno.test({
  name: "applyText() changes nothing when one namespace is missing",
  ignore: Deno.uid() !== 0,
  fn: () => {
    const backend = fakeBackend();
    const text = HOST_FILE(80, "  no-such-ns-graft-test:\n    endpoints: {}\n");
    assertThrows(
      () => applyText(text, "f.yaml", { backend }),
      /^ApplyFileError: f\.yaml:6:3: namespaces\.no-such-ns-graft-test: network namespace "no-such-ns-graft-test" not found/,
    );
    assertEquals(backend.ops, []);
    assertThrows(
      () =>
        applyText(
          "namespaces:\n  /proc/self/ns/net: {}\n  /proc/thread-self/ns/net: {}\n",
          "f.yaml",
          { backend },
        ),
      /f\.yaml:3:3: namespaces\.\/proc\/thread-self\/ns\/net: same namespace as "\/proc\/self\/ns\/net"/,
    );
  },
});

Deno.test("parseApplyText() reads a namespace's ingress and egress mappings, canonical", () => {
  const decls = parseApplyText(
    "namespaces:\n  c1:\n    ingress: ['[::0]:80=web']\n    egress:\n      - 10.1.2.3/8=out\n",
    "f",
  );
  assertEquals(decls[0].maps, { ingress: ["[::]:80=web"], egress: ["10.0.0.0/8=out"] });
  assertEquals(parseApplyText("namespaces:\n  c1:\n    endpoints: {}\n", "f")[0].maps, undefined);
  assertThrows(
    () => parseApplyText("namespaces:\n  c1:\n    egress:\n      - 0.0.0.0:80=web\n", "f"),
    (e: Error) => e.message.startsWith("f:4:9: namespaces.c1.egress:"),
  );
});

Deno.test({
  name:
    "applyText() adds missing mappings, leaves present ones, prunes extra ones only with --prune",
  ignore: Deno.uid() !== 0,
  fn: () => {
    const backend = fakeBackend();
    const file = (m: string) => HOST_FILE(80, `    ingress: [${m}]\n`);
    const r1 = applyText(file("'0.0.0.0:80=a'"), "f", { backend });
    assertEquals(r1.mappings, { created: 1, deleted: 0, unchanged: 0 });
    const r2 = applyText(file("'0.0.0.0:80=a'"), "f", { backend });
    assertEquals(r2.mappings, { created: 0, deleted: 0, unchanged: 1 });
    assertEquals(formatApplyResult(r2), "unchanged (2 endpoints in 1 namespace, 1 mapping)");
    const r3 = applyText(file("'0.0.0.0:81=a'"), "f", { backend });
    assertEquals(r3.mappings, { created: 1, deleted: 0, unchanged: 0 });
    const r4 = applyText(file("'0.0.0.0:81=a'"), "f", { backend, prune: true });
    assertEquals(r4.mappings, { created: 0, deleted: 1, unchanged: 1 });
    assertEquals(backend.ops.filter((o) => o.startsWith("map")), [
      "map add ingress 0.0.0.0:80=a",
      "map add ingress 0.0.0.0:81=a",
      "map del ingress 0.0.0.0:80=a",
    ]);
  },
});
