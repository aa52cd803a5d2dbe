import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseIPv4, parseIPv6 } from "../model/addr.ts";
import { decodeSockaddr, sockaddrIn, sockaddrIn6 } from "./sockaddr.ts";

Deno.test("sockaddr encoders produce what decodeSockaddr() reads back", () => {
  assertEquals(decodeSockaddr(sockaddrIn(parseIPv4("127.0.0.1")!, 8080)), {
    family: "ipv4",
    addr: "127.0.0.1",
    port: 8080,
  });
  assertEquals(decodeSockaddr(sockaddrIn6(parseIPv6("::1")!, 443)), {
    family: "ipv6",
    addr: "::1",
    port: 443,
  });
});
