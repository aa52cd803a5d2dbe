import { deepStrictEqual as assertEquals, ok, throws as assertThrows } from "node:assert/strict";
import { endpointAttrs, endpointFromAttrs, kernelAvailable } from "../backends/kernel.ts";
import {
  AttrWriter,
  concat,
  GenlFamily,
  genlHeader,
  NETLINK_GENERIC,
  NetlinkError,
  NetlinkSocket,
  parseAttrs,
  resolveGenlFamily,
} from "./netlink.ts";

Deno.test("resolveGenlFamily() finds nlctrl through the real kernel and not a made-up family", () => {
  const sock = new NetlinkSocket(NETLINK_GENERIC);
  try {
    assertEquals(resolveGenlFamily(sock, "nlctrl"), 0x10);
    assertEquals(resolveGenlFamily(sock, "no-such-family"), undefined);
  } finally {
    sock.close();
  }
});

Deno.test("a refused request becomes a NetlinkError with the kernel's errno", () => {
  const sock = new NetlinkSocket(NETLINK_GENERIC);
  try {
    // nlctrl has no command 250.
    assertThrows(
      () => sock.request(0x10, 0x4, concat(genlHeader(250, 1), new Uint8Array(0))),
      (e: unknown) => e instanceof NetlinkError && e.errno === 95, // EOPNOTSUPP
    );
  } finally {
    sock.close();
  }
});

Deno.test("GenlFamily speaks to nlctrl by name and opens nothing for a made-up family", () => {
  assertEquals(GenlFamily.open("no-such-family", 1), undefined);
  const nlctrl = GenlFamily.open("nlctrl", 2);
  ok(nlctrl);
  try {
    assertEquals(nlctrl.id, 0x10);
    // CTRL_CMD_GETFAMILY dump: one reply per family, attributes only (genl header stripped).
    const names = nlctrl.request(3, 0x300).map((p) =>
      new TextDecoder().decode(parseAttrs(p).get(2))
    );
    ok(names.includes("nlctrl\0"), names.join(" "));
  } finally {
    nlctrl.close();
  }
});

Deno.test("kernelAvailable() is false where af_graft.ko is not loaded", () => {
  let loaded = false;
  try {
    Deno.statSync("/sys/module/af_graft");
    loaded = true;
  } catch { /* not loaded */ }
  assertEquals(kernelAvailable(), loaded);
});

Deno.test("endpoint attributes round-trip through the af_graft encoding", async (t) => {
  const eps = [
    { name: "ep-test", type: "ipv4", addr: "127.0.0.1", port: 8080 },
    { name: "ep-out", type: "ipv4", addr: "127.0.0.1", port: "dynamic" },
    { name: "ep6", type: "ipv6", addr: "::1", port: 443 },
    { name: "ep-app", type: "unix", path: "/run/app.sock" },
  ] as const;
  for (const ep of eps) {
    await t.step(ep.name, () => assertEquals(endpointFromAttrs(endpointAttrs(ep)), ep));
  }
});

Deno.test("parseAttrs() refuses an attribute whose length runs past the buffer", () => {
  const good = new AttrWriter().u32(1, 7).str(2, "x").bytes();
  ok(parseAttrs(good).has(2));
  const bad = good.slice();
  new DataView(bad.buffer).setUint16(0, 200, true);
  assertThrows(() => parseAttrs(bad), /malformed/);
});
