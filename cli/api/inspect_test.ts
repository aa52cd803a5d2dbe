import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import type { Endpoint } from "../model/endpoint.ts";
import {
  clip,
  formatBytes,
  formatInspect,
  type InspectReport,
  matchEndpoint,
  socketMatchesEndpoint,
  table,
  wrapList,
} from "./inspect.ts";
import type { DiagSocket } from "../sys/sockdiag.ts";
import { scanHost } from "../sys/procscan.ts";
import { A, kernelSocketFromAttrs } from "../backends/kernel.ts";
import { AttrWriter } from "../sys/netlink.ts";
import { sockaddrIn } from "../sys/sockaddr.ts";

const LOOPBACK = Uint8Array.of(127, 0, 0, 1);

Deno.test("formatBytes() stays within 6 characters", () => {
  assertEquals(
    [undefined, 0, 1023, 1024, 1536, 10 * 1024 * 1024, 5 * 2 ** 30, 2 ** 53].map(formatBytes),
    ["-", "0", "1023", "1.0K", "1.5K", "10M", "5.0G", "8.0P"],
  );
});

Deno.test("clip() marks a cut", () => {
  assertEquals([clip("abcdef", 4), clip("abc", 4), clip("abc", 1)], ["abc~", "abc", "a"]);
});

Deno.test("table() shrinks the widest columns to fit, never below their minimum", () => {
  const cols = [{ head: "A", min: 3 }, { head: "B", min: 5 }, { head: "N", min: 2, right: true }];
  const rows = [["x".repeat(40), "y".repeat(40), "12"]];
  const lines = table(cols, rows, 60, "  ");
  ok(lines.every((l) => l.length <= 60), lines.join("\n"));
  ok(lines[1].includes("~"));
  assertEquals(table(cols, [["a", "b", "7"]], 80), ["A  B  N", "a  b  7"]);
});

Deno.test("wrapList() wraps and cuts with a count", () => {
  const items = Array.from({ length: 50 }, (_, i) => `${1000 + i} proc${i}`);
  const two = wrapList("  processes (50):", items, 80, 2);
  assertEquals(two.length, 2);
  ok(two.every((l) => l.length <= 80), two.join("\n"));
  ok(/\.\.\. \d+ more$/.test(two[1]), two[1]);
  const all = wrapList("  processes (50):", items, 80, Infinity);
  ok(all.every((l) => l.length <= 80));
  assertEquals(all.join(" ").split(",").length, 50);
});

const sock = (s: Partial<DiagSocket>): DiagSocket => ({
  proto: "tcp",
  family: "ipv4",
  inode: 1,
  state: "LISTEN",
  ...s,
});

Deno.test("socketMatchesEndpoint() matches address, port or dynamic, and unix paths", () => {
  const eps: Endpoint[] = [
    { name: "ep-out", type: "ipv4", addr: "127.0.0.1", port: "dynamic" },
    { name: "ep-in", type: "ipv4", addr: "127.0.0.1", port: 8080 },
    { name: "ep6", type: "ipv6", addr: "::1", port: 443 },
    { name: "ep-app", type: "unix", path: "/run/app.sock" },
  ];
  const name = (s: DiagSocket) => matchEndpoint(s, eps)?.name;
  assertEquals(name(sock({ localAddr: "127.0.0.1", localPort: 8080 })), "ep-in");
  assertEquals(name(sock({ localAddr: "127.0.0.1", localPort: 41000 })), "ep-out");
  assertEquals(name(sock({ localAddr: "127.0.0.2", localPort: 8080 })), undefined);
  assertEquals(name(sock({ family: "ipv6", localAddr: "::1", localPort: 443 })), "ep6");
  assertEquals(name(sock({ family: "ipv6", localAddr: "::1", localPort: 444 })), undefined);
  assertEquals(
    name(sock({ family: "ipv6", localAddr: "::ffff:7f00:1", localPort: 8080 })),
    "ep-in",
  );
  assertEquals(name(sock({ proto: "unix", family: "unix", path: "/run/app.sock" })), "ep-app");
  ok(!socketMatchesEndpoint(sock({ proto: "unix", family: "unix" }), eps[3]));
});

Deno.test("formatInspect() fits 80 columns even with IPv6 and long names", () => {
  const r: InspectReport = {
    broker: { socket: "/run/graft/graft.sock", running: true, pid: 42 },
    kernel: { available: false },
    hidden: 3,
    warnings: [],
    elapsedMs: 12.5,
    namespaces: [{
      name: "a-rather-long-namespace-name-for-a-container",
      names: ["a-rather-long-namespace-name-for-a-container"],
      ino: 4026532301,
      host: false,
      processes: Array.from({ length: 30 }, (_, i) => ({ pid: 100000 + i, comm: "python3" })),
      endpoints: [
        { name: "ep-in", type: "ipv4", addr: "127.0.0.1", port: 8080, source: "broker" },
        {
          name: "abcdefghijklmno",
          type: "ipv6",
          addr: "2001:db8:1234:5678:9abc:def0:1234:5678",
          port: "dynamic",
          netns: "another-long-target-namespace",
          source: "kernel",
        },
        { name: "ep-app", type: "unix", path: "/run/" + "x".repeat(100), source: "broker" },
      ],
      grafted: [{
        pid: 4194304,
        comm: "a-long-command",
        fds: [3],
        netns: "a-rather-long-namespace-name-for-a-container",
        socketNetns: "another-long-target-namespace",
        socketNetnsIno: 4026531840,
        endpoint: "abcdefghijklmno",
        proto: "tcp",
        family: "ipv6",
        state: "CLOSE-WAIT",
        local: "[2001:db8:1234:5678:9abc:def0:1234:5678]:65535",
        remote: "[2001:db8:1234:5678:9abc:def0:1234:9999]:65535",
        bytesSent: 123456789012,
        bytesReceived: 5,
        inode: 7,
      }],
      hosted: 0,
      maps: { ingress: [], egress: [] },
    }],
  };
  const text = formatInspect(r, 80);
  for (const line of text.split("\n")) ok(line.length <= 80, `too wide: ${line}`);
  ok(text.includes("4194304"));
  ok(text.includes("local [2001:db8:1234:5678:9abc:def0:1234:5678]:65535"), text);
  ok(text.includes("(3 more with --all)"));
});

Deno.test("scanHost() sees this process holding its own socket", () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const scan = scanHost({ sockets: true });
    const mine = [...scan.holders.values()].flat().filter((h) => h.pid === Deno.pid);
    ok(mine.length > 0, "our sockets are found");
    const self = Deno.statSync("/proc/self/ns/net").ino!;
    ok(scan.namespaces.get(self)?.processes.some((p) => p.pid === Deno.pid));
    ok([...scan.namespaces.values()].some((n) => n.host));
  } finally {
    l.close();
  }
});

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** The attributes every GRAFT_CMD_SOCK_GET message starts with; a test appends the rest. */
function sockGet(
  s: {
    inode: number;
    endpoint: string;
    family: number;
    type: number;
    protocol?: number;
    state: number;
  },
): AttrWriter {
  const w = new AttrWriter()
    .raw(A.SOCK_INODE, u64(s.inode))
    .str(A.EP_NAME, s.endpoint)
    .u16(A.SOCK_FAMILY, s.family)
    .u16(A.SOCK_TYPE, s.type);
  if (s.protocol !== undefined) w.u16(A.SOCK_PROTOCOL, s.protocol);
  return w.u8(A.SOCK_STATE, s.state);
}

Deno.test("kernelSocketFromAttrs() decodes a GRAFT_CMD_SOCK_GET message", async (t) => {
  await t.step("an established TCP socket", () => {
    const w = sockGet({ inode: 4242, endpoint: "web", family: 2, type: 1, protocol: 6, state: 1 })
      .u32(A.SOCK_NETNS_INO, 4026531840)
      .raw(A.SOCK_HOST_INODE, u64(4243))
      .raw(A.SOCK_LOCAL, sockaddrIn(LOOPBACK, 8080))
      .raw(A.SOCK_PEER, sockaddrIn(LOOPBACK, 40000))
      .raw(A.SOCK_BYTES_SENT, u64(3))
      .raw(A.SOCK_BYTES_RECEIVED, u64(5));
    const ks = kernelSocketFromAttrs(w.bytes());
    assertEquals(ks.graftInode, 4242);
    assertEquals(ks.endpoint, "web");
    assertEquals(ks.netnsIno, 4026531840);
    assertEquals(ks.host, {
      proto: "tcp",
      family: "ipv4",
      inode: 4243,
      state: "ESTAB",
      localAddr: "127.0.0.1",
      localPort: 8080,
      remoteAddr: "127.0.0.1",
      remotePort: 40000,
      bytesSent: 3,
      bytesReceived: 5,
    });
  });
  await t.step("an unconnected UDP socket has no byte counters and no peer", () => {
    const w = sockGet({ inode: 7, endpoint: "dns", family: 2, type: 2, protocol: 17, state: 7 })
      .raw(A.SOCK_LOCAL, sockaddrIn(LOOPBACK, 53));
    const ks = kernelSocketFromAttrs(w.bytes());
    assertEquals([ks.host.proto, ks.host.state, ks.host.remotePort], ["udp", "UNCONN", 0]);
    assertEquals([ks.host.bytesSent, ks.host.bytesReceived], [undefined, undefined]);
  });
  await t.step("a unix socket keeps its path and its peer's", () => {
    const path = (p: string) => {
      const e = new TextEncoder().encode(p);
      const b = new Uint8Array(2 + e.length + 1);
      b[0] = 1;
      b.set(e, 2);
      return b;
    };
    const w = sockGet({ inode: 9, endpoint: "app", family: 1, type: 1, state: 1 })
      .raw(A.SOCK_LOCAL, path("/run/app.sock"))
      .raw(A.SOCK_PEER, Uint8Array.of(1, 0));
    const ks = kernelSocketFromAttrs(w.bytes());
    assertEquals([ks.host.proto, ks.host.path, ks.host.unixType], [
      "unix",
      "/run/app.sock",
      "stream",
    ]);
    assertEquals(ks.peerPath, "*");
  });
  await t.step("a message without inode is refused", () => {
    ok(
      (() => {
        try {
          kernelSocketFromAttrs(new AttrWriter().str(A.EP_NAME, "x").bytes());
          return false;
        } catch {
          return true;
        }
      })(),
    );
  });
});
