import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import type { Endpoint } from "../model/endpoint.ts";
import { C, Errno } from "../sys/ffi.ts";
import { planSocket } from "./graft.ts";
import { Refusal } from "./policy.ts";
import type { SockRequest } from "./proto.ts";

const ep4: Endpoint = { name: "ep4", type: "ipv4", addr: "127.0.0.1", port: 8080 };

function req(v6only?: number): SockRequest {
  const opts = v6only === undefined ? [] : [{
    level: C.IPPROTO_IPV6,
    name: C.IPV6_V6ONLY,
    value: new Uint8Array([v6only, 0, 0, 0]),
  }];
  return {
    hdr: { op: 1, len: 0, seq: 1, version: 1 },
    ep: "ep4",
    family: C.AF_INET6,
    type: C.SOCK_STREAM,
    protocol: 0,
    port: 80,
    opts,
  };
}

Deno.test("planSocket(): an IPv6 socket on an IPv4 endpoint is served dual-stack", () => {
  assertEquals(planSocket(ep4, req()).forceDual, true);
  assertEquals(planSocket(ep4, req(0)).forceDual, true);
});

Deno.test("planSocket(): an IPV6_V6ONLY socket is refused an IPv4 endpoint", () => {
  throws(
    () => planSocket(ep4, req(1)),
    (e: unknown) =>
      e instanceof Refusal && e.errno === Errno.EADDRNOTAVAIL && /IPV6_V6ONLY/.test(e.message),
  );
});
