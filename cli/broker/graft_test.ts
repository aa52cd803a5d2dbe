import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import type { Endpoint } from "../model/endpoint.ts";
import { C, closeFd, Errno, openFd } from "../sys/ffi.ts";
import { socketNetnsCookie } from "../sys/peer.ts";
import { makeBoundSockets, planSocket } from "./graft.ts";
import { Refusal } from "./policy.ts";
import { namespaceKey } from "./registry.ts";
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

/**
 * A fresh network namespace (lo up), removed after: `fn` grafts into it (the
 * target) from this thread's namespace (home).
 */
function withFreshNetns(fn: (where: { target: number; home: number }) => void): void {
  const name = `gbgt-${Deno.pid}`;
  const ip = (...args: string[]) => {
    if (!new Deno.Command("ip", { args, stderr: "null" }).outputSync().success) {
      throw new Error(`ip ${args.join(" ")} failed`);
    }
  };
  ip("netns", "add", name);
  const fd = openFd(`/run/netns/${name}`);
  const home = openFd("/proc/thread-self/ns/net");
  try {
    ip("-n", name, "link", "set", "lo", "up");
    fn({ target: fd, home });
  } finally {
    closeFd(home);
    closeFd(fd);
    ip("netns", "del", name);
  }
}

function openFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

const client: SockRequest = { ...req(), family: C.AF_INET, port: 0 };
const dyn: Endpoint = { name: "dyn", type: "ipv4", addr: "127.0.0.1", port: "dynamic" };

Deno.test({
  name: "makeBoundSockets(): a batch is made in the target namespace, bound with no port",
  ignore: Deno.uid() !== 0,
  fn() {
    withFreshNetns((where) => {
      const before = namespaceKey(where.home);
      const made = makeBoundSockets(planSocket(dyn, client), client, where, 0, 5);
      assertEquals(made.fds.length, 5);
      assertEquals(namespaceKey(where.home), before, "the thread came back home");
      for (const fd of made.fds) {
        assertEquals(String(socketNetnsCookie(fd)), namespaceKey(where.target));
        closeFd(fd);
      }
      // 127.0.0.1, port 0: connect() chooses the port (IP_BIND_ADDRESS_NO_PORT).
      assertEquals([...made.addr.slice(2, 8)], [0, 0, 127, 0, 0, 1]);
    });
  },
});

Deno.test({
  name: "makeBoundSockets(): a batch that cannot bind is refused and leaves no descriptor",
  ignore: Deno.uid() !== 0,
  fn() {
    withFreshNetns((where) => {
      const absent: Endpoint = { ...dyn, addr: "198.18.9.9" }; // not on the target
      const n = openFds();
      throws(
        () => makeBoundSockets(planSocket(absent, client), client, where, 0, 8),
        (e) => e instanceof Refusal && e.errno === Errno.EADDRNOTAVAIL,
      );
      assertEquals(openFds(), n);
    });
  },
});
