import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import type { Endpoint } from "../model/endpoint.ts";
import { C, Errno } from "../sys/ffi.ts";
import { Cap, NO_CAPS, type PeerCaps } from "../sys/peer.ts";
import { checkGrant, pickEviction, Refusal, requireAdmin, type SocketAsk } from "./policy.ts";

const caps = (...list: number[]): PeerCaps => ({
  effective: list.reduce((b, c) => b | (1n << BigInt(c)), 0n),
  initUserns: true,
});
const dyn: Endpoint = { name: "ep-dyn", type: "ipv4", addr: "127.0.0.1", port: "dynamic" };
const ask = (over: Partial<SocketAsk> = {}): SocketAsk => ({
  type: C.SOCK_STREAM,
  protocol: 0,
  port: 0,
  opts: [],
  ...over,
});
const refusedWith = (errno: number, message: RegExp) => (e: unknown) =>
  e instanceof Refusal && e.errno === errno && message.test(e.message);
const check = (ep: Endpoint, a: SocketAsk, c: PeerCaps = NO_CAPS) =>
  checkGrant(ep, a, () => c, () => 1024);

Deno.test("administration needs CAP_NET_ADMIN in the initial user namespace, not uid 0", () => {
  assertThrows(
    () => requireAdmin(NO_CAPS, "adding endpoints"),
    refusedWith(Errno.EPERM, /CAP_NET_ADMIN/),
  );
  const inUserns = { ...caps(Cap.NET_ADMIN, Cap.SYS_ADMIN), initUserns: false };
  assertThrows(
    () => requireAdmin(inUserns, "x"),
    refusedWith(Errno.EPERM, /initial user namespace/),
  );
  requireAdmin(caps(Cap.NET_ADMIN), "x");
});

Deno.test("port dynamic: a privileged port needs CAP_NET_BIND_SERVICE; a fixed port is the admin's", () => {
  assertThrows(
    () => check(dyn, ask({ port: 80 })),
    refusedWith(Errno.EACCES, /port 80 is privileged/),
  );
  check(dyn, ask({ port: 80 }), caps(Cap.NET_BIND_SERVICE));
  check(dyn, ask({ port: 1024 }));
  check(dyn, ask({ port: 0 }));
  check({ ...dyn, port: 80 }, ask({ port: 80 }));
});

Deno.test("SO_REUSEPORT only on endpoints with flag reuseport", () => {
  const on = { level: C.SOL_SOCKET, name: C.SO_REUSEPORT, value: new Uint8Array([1, 0, 0, 0]) };
  assertThrows(
    () => check(dyn, ask({ port: 8080, opts: [on] })),
    refusedWith(Errno.EPERM, /flag reuseport/),
  );
  check({ ...dyn, flags: ["reuseport"] }, ask({ port: 8080, opts: [on] }));
  check(dyn, ask({ port: 5353, opts: [{ ...on, value: new Uint8Array(4) }] })); // turned off
  assertThrows(
    () => check(dyn, ask({ port: 5353, opts: [on] })),
    refusedWith(Errno.EPERM, /reuseport/),
  );
  check(dyn, ask({ port: 0, opts: [on] })); // a port the kernel picks joins no group on purpose
});

Deno.test("TCP and UDP only; unix datagrams only with flag abstract; NET_ADMIN needs SYS_ADMIN", () => {
  assertThrows(
    () => check(dyn, ask({ protocol: 132 })),
    refusedWith(Errno.EPROTONOSUPPORT, /TCP and UDP/),
  );
  assertThrows(
    () => check(dyn, ask({ protocol: C.IPPROTO_UDP })),
    refusedWith(Errno.EPROTONOSUPPORT, /17/),
  );
  check(dyn, ask({ type: C.SOCK_DGRAM, protocol: C.IPPROTO_UDP }));
  const u: Endpoint = { name: "ep-u", type: "unix", path: "/run/u.sock" };
  assertThrows(() => check(u, ask({ type: C.SOCK_DGRAM })), refusedWith(Errno.EPERM, /abstract/));
  check({ ...u, flags: ["abstract"] }, ask({ type: C.SOCK_DGRAM }));
  check(u, ask());
  assertThrows(
    () => check(dyn, ask(), caps(Cap.NET_ADMIN)),
    refusedWith(Errno.EPERM, /CAP_SYS_ADMIN/),
  );
  check(dyn, ask(), caps(Cap.NET_ADMIN, Cap.SYS_ADMIN));
});

Deno.test("eviction takes the idlest connection of the uid holding the most", () => {
  const conns = [
    { fd: 1, cred: { uid: 0 }, lastActive: 1 },
    { fd: 2, cred: { uid: 65534 }, lastActive: 5 },
    { fd: 3, cred: { uid: 65534 }, lastActive: 3 },
    { fd: 4, cred: { uid: 65534 }, lastActive: 9 },
  ];
  assertEquals(pickEviction(conns)?.fd, 3);
  assertEquals(pickEviction([]), undefined);
});
