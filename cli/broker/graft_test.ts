import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import type { Endpoint } from "../model/endpoint.ts";
import { C, closeFd, Errno, libc, openFd, SysError } from "../sys/ffi.ts";
import { socketNetnsCookie } from "../sys/peer.ts";
import { recvPacket } from "../sys/unix.ts";
import { makeBoundSockets, makeSpareSockets, planSocket } from "./graft.ts";
import { Refusal } from "./policy.ts";
import { namespaceKey } from "./registry.ts";
import * as P from "./proto.ts";
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

/** An int option of the application's, as the wire carries it. */
function intOpt(level: number, name: number, v: number) {
  const value = new Uint8Array(4);
  new DataView(value.buffer).setInt32(0, v, true);
  return { level, name, value };
}

Deno.test({
  name: "makeBoundSockets(): an option the kernel rejects is refused in the broker's words",
  ignore: Deno.uid() !== 0,
  fn() {
    const n = openFds();
    const bad = { ...client, opts: [intOpt(C.IPPROTO_TCP, C.TCP_KEEPIDLE, 0)] };
    throws(
      () => makeBoundSockets(planSocket(dyn, bad), bad, undefined, 0, 4),
      (e) =>
        e instanceof Refusal && e.errno === Errno.EINVAL &&
        e.message === "endpoint dyn (127.0.0.1:0): setsockopt(6, 4): Invalid argument",
    );
    assertEquals(openFds(), n);
    // One the family does not know (TCP_NODELAY on UDP) is skipped, as before.
    const udp = { ...client, type: C.SOCK_DGRAM, opts: [intOpt(C.IPPROTO_TCP, C.TCP_NODELAY, 1)] };
    const made = makeBoundSockets(planSocket(dyn, udp), udp, undefined, 0, 1);
    assertEquals(made.fds.length, 1);
    // Port 0 without IP_BIND_ADDRESS_NO_PORT: the kernel's choice is read back.
    const port = new DataView(made.addr.buffer).getUint16(2, false);
    assertEquals(port > 0, true, `bound to port ${port}`);
    closeFd(made.fds[0]);
  },
});

Deno.test({
  name: "makeBoundSockets(): a target that is no namespace fails in setns and leaves nothing open",
  ignore: Deno.uid() !== 0,
  fn() {
    const n = openFds();
    const notNs = openFd("/dev/null");
    const home = openFd("/proc/thread-self/ns/net");
    try {
      throws(
        () => makeBoundSockets(planSocket(dyn, client), client, { target: notNs, home }, 0, 4),
        (e) =>
          e instanceof SysError && e.errno === Errno.EINVAL &&
          e.message === "entering network namespace: setns: Invalid argument",
      );
    } finally {
      closeFd(notNs);
      closeFd(home);
    }
    assertEquals(openFds(), n);
  },
});

Deno.test({
  name: "makeBoundSockets(): a batch cut short by the descriptor limit hands out what was made",
  ignore: Deno.uid() !== 0,
  fn() {
    const RLIMIT_NOFILE = 7;
    const lim = new BigUint64Array(2);
    const b = new Uint8Array(lim.buffer);
    assertEquals(libc().getrlimit(RLIMIT_NOFILE, b), 0);
    const saved = lim[0];
    // Fill the table up to a lower limit, then free exactly three slots.
    const top = Math.max(...[...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)));
    lim[0] = BigInt(top + 16);
    assertEquals(libc().setrlimit(RLIMIT_NOFILE, b), 0);
    const fillers: number[] = [];
    let made;
    try {
      for (;;) {
        const fd = libc().open(new TextEncoder().encode("/dev/null\0"), C.O_CLOEXEC, 0);
        if (fd < 0) break;
        fillers.push(fd);
      }
      for (const fd of fillers.splice(-3)) closeFd(fd);
      made = makeBoundSockets(planSocket(dyn, client), client, undefined, 0, 8);
    } finally {
      for (const fd of fillers) closeFd(fd);
      lim[0] = saved;
      libc().setrlimit(RLIMIT_NOFILE, b);
    }
    assertEquals(made.fds.length, 3);
    for (const fd of made.fds) closeFd(fd);
  },
});

Deno.test({
  name: "makeBoundSockets(): with a reply, the sockets go to the client and the broker keeps none",
  ignore: Deno.uid() !== 0,
  fn() {
    withFreshNetns((where) => {
      const sv = new Int32Array(2);
      const ok = libc().socketpair(
        C.AF_UNIX,
        C.SOCK_SEQPACKET | C.SOCK_CLOEXEC,
        0,
        new Uint8Array(sv.buffer),
      );
      assertEquals(ok, 0);
      const n = openFds();
      const reply = { fd: sv[0], seq: 77, op: P.Op.SOCKETS };
      const made = makeBoundSockets(planSocket(dyn, client), client, where, 0, 6, reply);
      assertEquals([made.sent, made.fds.length, openFds()], [0, 6, n]);
      const pkt = recvPacket(sv[1], P.PACKET_MAX, C.MSG_DONTWAIT)!;
      const resp = P.decodeSockResponse(pkt.data)!;
      assertEquals(P.getHeader(pkt.data), {
        op: P.Op.SOCKETS,
        seq: 77,
        len: pkt.data.length,
        version: P.VERSION,
      });
      assertEquals([resp.status, resp.family, resp.msg], [0, C.AF_INET, ""]);
      assertEquals([...resp.addr.slice(2, 8)], [0, 0, 127, 0, 0, 1]);
      assertEquals(pkt.fds.length, 6);
      for (const fd of pkt.fds) {
        assertEquals(String(socketNetnsCookie(fd)), namespaceKey(where.target));
        closeFd(fd);
      }
      closeFd(sv[0]);
      closeFd(sv[1]);
    });
  },
});

Deno.test({
  name: "makeBoundSockets(): a thread that cannot return home makes nothing more",
  ignore: Deno.uid() !== 0,
  async fn() {
    // In a process of its own: the thread is left in the other namespace.
    const script = `
      import { makeBoundSockets, planSocket } from "${new URL("./graft.ts", import.meta.url)}";
      import { openFd } from "${new URL("../sys/ffi.ts", import.meta.url)}";
      const ep = { name: "dyn", type: "ipv4", addr: "127.0.0.1", port: "dynamic" };
      const req = { hdr: { op: 1, len: 0, seq: 1, version: 1 }, ep: "dyn", family: 2, type: 1,
        protocol: 0, port: 0, opts: [] };
      const where = { target: openFd(Deno.args[0]), home: openFd("/dev/null") };
      for (const w of [where, undefined]) {
        try {
          makeBoundSockets(planSocket(ep, req), req, w, 0, 2);
          console.log("made");
        } catch (e) {
          console.log(e.message);
        }
      }`;
    const name = `gbgs-${Deno.pid}`;
    await new Deno.Command("ip", { args: ["netns", "add", name] }).output();
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--quiet", script, `/run/netns/${name}`],
        stderr: "inherit",
      }).output();
      assertEquals(new TextDecoder().decode(out.stdout).trim().split("\n"), [
        "restoring network namespace: setns: Invalid argument",
        "restoring network namespace: setns: State not recoverable",
      ]);
    } finally {
      await new Deno.Command("ip", { args: ["netns", "del", name] }).output();
    }
  },
});

/** The address a socket is bound to, "ADDR:PORT" (IPv4). */
function boundTo(fd: number): string {
  const a = new Uint8Array(16);
  const len = new Uint32Array([16]);
  libc().getsockname(fd, a, new Uint8Array(len.buffer));
  return `${a.slice(4, 8).join(".")}:${(a[2] << 8) | a[3]}`;
}

Deno.test({
  name: "makeSpareSockets() makes them unbound in the target; makeBoundSockets() binds a given one",
  ignore: Deno.uid() !== 0,
  fn() {
    withFreshNetns((where) => {
      const n = openFds();
      const spares = makeSpareSockets(planSocket(dyn, client), client, where, 0, 3);
      assertEquals(spares.length, 3);
      for (const fd of spares) {
        assertEquals(String(socketNetnsCookie(fd)), namespaceKey(where.target));
        assertEquals(boundTo(fd), "0.0.0.0:0", "nothing applied to a spare");
      }
      // Taken from the spares: no namespace switch, bound in the spare's namespace.
      const given = spares.pop()!;
      const again = makeBoundSockets(planSocket(dyn, client), client, undefined, 0, 1, undefined, {
        given,
      });
      assertEquals(again.fds, [given]);
      assertEquals(String(socketNetnsCookie(given)), namespaceKey(where.target));
      assertEquals(boundTo(given), "127.0.0.1:0");
      // A given spare that cannot be bound is refused and closed.
      const absent: Endpoint = { ...dyn, addr: "198.18.9.9" };
      const spare = spares.pop()!;
      throws(
        () =>
          makeBoundSockets(planSocket(absent, client), client, undefined, 0, 1, undefined, {
            given: spare,
          }),
        (e) => e instanceof Refusal && e.errno === Errno.EADDRNOTAVAIL,
      );
      for (const fd of [...spares, given]) closeFd(fd);
      assertEquals(openFds(), n);
    });
  },
});
