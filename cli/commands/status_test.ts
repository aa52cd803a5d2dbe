import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { formatStatus, formatUptime } from "./status.ts";

Deno.test("formatUptime() keeps the two largest units", () => {
  assertEquals(formatUptime(12_345), "12s");
  assertEquals(formatUptime(250_000), "4m 10s");
  assertEquals(formatUptime(7_500_000), "2h 5m");
  assertEquals(formatUptime(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
});

Deno.test("formatStatus() says what serves, what was refused and whether the state is saved", () => {
  const base = {
    pid: 7,
    version: 1,
    stats: { sockets: 40, refused: 3, malformed: 1, requests: 50 },
    refusedBy: { EPERM: 1, EADDRNOTAVAIL: 2 },
    uptimeMs: 61_000,
    clients: 2,
    activated: true,
    namespaces: [1, 2].map((ino) => ({ ino, endpoints: [], maps: { ingress: [], egress: [] } })),
  };
  const ok = formatStatus(
    { ...base, state: { path: "/s.json", ok: true, endpoints: 0, savedAt: 1000 } },
    "/g.sock",
  );
  assertEquals(ok, [
    "broker: pid 7, up 1m 1s, /g.sock (socket activation)",
    "clients: 2 connected",
    "grafts: 40 sockets served, 3 refused (EADDRNOTAVAIL 2, EPERM 1), 1 malformed requests",
    "endpoints: 0 in 2 namespace(s)",
    "state: /s.json: ok, 0 endpoint(s), saved 1970-01-01T00:00:01.000Z",
  ]);
  const failing = formatStatus(
    { ...base, state: { path: "/s.json", ok: false, endpoints: 0, error: "cannot write: EROFS" } },
    "/g.sock",
  );
  assertEquals(failing[4], "state: /s.json: FAILING: cannot write: EROFS");
  assertEquals(
    formatStatus({ ...base, state: null }, "/g.sock")[4],
    "state: none (endpoints are not saved)",
  );
});
