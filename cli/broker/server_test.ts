/**
 * The broker in-process: a real Broker on a temporary socket (on a worker
 * thread of this process), driven through the client over the wire protocol.
 * Needs root (the broker opens namespace descriptors, endpoints need root).
 */
import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { decodeSockaddr } from "../sys/sockaddr.ts";
import { C, check, closeFd, Errno, libc } from "../sys/ffi.ts";
import { pollNow, recvPacket, sendPacket, seqpacketConnect, setTimeouts } from "../sys/unix.ts";
import { BrokerError } from "../model/errors.ts";
import {
  brokerAdd,
  brokerDel,
  brokerList,
  brokerSocket,
  brokerSockets,
  brokerStatus,
  type SocketAsk,
} from "./client.ts";
import * as P from "./proto.ts";

const root = Deno.uid() === 0;

async function startBroker(socketPath: string, maxClients?: number): Promise<Worker> {
  const w = new Worker(new URL("./testdata/serve_worker.ts", import.meta.url), { type: "module" });
  const ready = new Promise((resolve, reject) => {
    w.onmessage = (e) => resolve(e.data);
    w.onerror = (e) => reject(e);
  });
  w.postMessage({ socketPath, maxClients });
  assertEquals(await ready, "listening");
  return w;
}

/** The broker's undelivered sockets per namespace that holds any. */
async function held(w: Worker): Promise<number[]> {
  const got = new Promise<number[]>((resolve) => (w.onmessage = (e) => resolve(e.data.held)));
  w.postMessage("held");
  return await got;
}

async function stopBroker(w: Worker): Promise<void> {
  const done = new Promise((resolve) => (w.onmessage = (e) => resolve(e.data)));
  w.postMessage("stop");
  assertEquals(await done, "stopped");
  w.terminate();
}

/** A port nobody uses right now on 127.0.0.1. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function refusedWith(errno: number, re: RegExp) {
  return (e: unknown) => e instanceof BrokerError && e.errno === errno && re.test(e.message);
}

const ask = (ep: string, over: Partial<SocketAsk> = {}): SocketAsk => ({
  ep,
  family: C.AF_INET,
  type: C.SOCK_STREAM,
  protocol: 0,
  port: 0,
  opts: [],
  ...over,
});

Deno.test({
  name: "the broker serves endpoints and grafts over the wire protocol",
  ignore: !root,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "graft-broker-test-" });
    const sock = `${dir}/graft.sock`;
    const w = await startBroker(sock);
    const port = freePort();
    try {
      await t.step("ep add, list, and a duplicate refused", () => {
        brokerAdd({ name: "t-fixed", type: "ipv4", addr: "127.0.0.1", port }, [], sock);
        brokerAdd({ name: "t-dyn", type: "ipv4", addr: "127.0.0.1", port: "dynamic" }, [], sock);
        brokerAdd({ name: "t-unix", type: "unix", path: `${dir}/app.sock` }, [], sock);
        assertEquals(brokerList([], sock).map((e) => e.name).sort(), [
          "t-dyn",
          "t-fixed",
          "t-unix",
        ]);
        throws(
          () => brokerAdd({ name: "t-fixed", type: "ipv4", addr: "127.0.0.2", port: 1 }, [], sock),
          refusedWith(Errno.EEXIST, /already exists/),
        );
      });

      await t.step(
        "a graft is bound where the endpoint says, and really listens there",
        async () => {
          const g = brokerSocket(ask("t-fixed", { port: 5201 }), sock);
          try {
            assertEquals(g.family, C.AF_INET);
            assertEquals(decodeSockaddr(g.addr), { family: "ipv4", addr: "127.0.0.1", port });
            check("listen", libc().listen(g.fd, 4));
            const conn = await Deno.connect({ hostname: "127.0.0.1", port });
            conn.close();
          } finally {
            closeFd(g.fd);
          }
        },
      );

      await t.step(
        "an IPv6 socket on an IPv4 endpoint is v4-mapped; dynamic keeps the app's port",
        () => {
          const p2 = freePort();
          const g = brokerSocket(ask("t-dyn", { family: C.AF_INET6, port: p2 }), sock);
          closeFd(g.fd);
          assertEquals(decodeSockaddr(g.addr), {
            family: "ipv6",
            addr: "::ffff:127.0.0.1",
            port: p2,
          });
        },
      );

      await t.step("a unix endpoint binds its path", () => {
        const g = brokerSocket(ask("t-unix"), sock);
        closeFd(g.fd);
        assertEquals(decodeSockaddr(g.addr), { family: "unix", path: `${dir}/app.sock` });
        ok(Deno.lstatSync(`${dir}/app.sock`).isSocket);
      });

      await t.step("a batch of client sockets for a port-dynamic endpoint", () => {
        const fds = brokerSockets(ask("t-dyn"), 5, sock);
        assertEquals(fds.length, 5);
        for (const fd of fds) closeFd(fd);
      });

      await t.step("refusals: unknown endpoint, socket type, family, batch on a fixed port", () => {
        throws(() => brokerSocket(ask("nope"), sock), refusedWith(Errno.EADDRNOTAVAIL, /"nope"/));
        throws(
          () => brokerSocket(ask("t-fixed", { type: 3 /* SOCK_RAW */ }), sock),
          refusedWith(Errno.EINVAL, /socket type 3/),
        );
        throws(
          () => brokerSocket(ask("t-fixed", { family: C.AF_UNIX }), sock),
          refusedWith(Errno.EAFNOSUPPORT, /family 1/),
        );
        throws(() => brokerSockets(ask("t-fixed"), 4, sock), refusedWith(Errno.EINVAL, /batches/));
      });

      await t.step("a packet of another protocol version gets EPROTO and a close", () => {
        const fd = seqpacketConnect(sock);
        try {
          setTimeouts(fd, 5000);
          const pkt = P.encodeSockRequest(ask("t-fixed"), 7);
          new DataView(pkt.buffer).setUint16(4, P.VERSION + 1, true);
          sendPacket(fd, pkt);
          const reply = recvPacket(fd, P.PACKET_MAX);
          const resp = P.decodeSockResponse(reply!.data);
          assertEquals(resp?.status, Errno.EPROTO);
          ok(/protocol version/.test(resp!.msg));
          assertEquals(recvPacket(fd, P.PACKET_MAX), null); // closed
        } finally {
          closeFd(fd);
        }
      });

      await t.step("status counts what was served and refused", () => {
        const st = brokerStatus(sock);
        assertEquals(st.pid, Deno.pid);
        assertEquals(st.stats.sockets, 3 + 5);
        assertEquals(st.stats.refused, 4);
        assertEquals(st.stats.malformed, 1);
        assertEquals(st.refusedBy, { EEXIST: 1, EADDRNOTAVAIL: 1, EINVAL: 2, EAFNOSUPPORT: 1 });
        assertEquals(st.clients, 1); // this request's own connection
        ok(st.uptimeMs! >= 0 && st.activated === false && st.state === null);
        assertEquals(st.namespaces.length, 1);
        assertEquals(st.namespaces[0].endpoints.length, 3);
      });

      await t.step(
        "undelivered sockets: 256 a namespace, counted per namespace, freed when read or hung up",
        async () => {
          // A connection that asks for 32 and does not read holds them.
          const hold = (): number => {
            const fd = seqpacketConnect(sock);
            sendPacket(fd, P.encodeSocksRequest(ask("t-dyn"), 32, 1));
            ok(pollNow([fd], 5000).length === 1, "no reply within 5 s");
            return fd;
          };
          // A connection that asks for 32 and reads: how many it got.
          const got = (): number => {
            const fd = seqpacketConnect(sock);
            try {
              sendPacket(fd, P.encodeSocksRequest(ask("t-dyn"), 32, 1));
              const reply = recvPacket(fd, P.PACKET_MAX);
              for (const f of reply?.fds ?? []) closeFd(f);
              return reply?.fds.length ?? -1;
            } finally {
              closeFd(fd);
            }
          };
          // The broker's per-namespace count, once it has seen what we did
          // (hang-ups reach it on its own thread, some time later).
          const heldBecomes = async (want: number[]): Promise<number[]> => {
            let now: number[] = [];
            for (let i = 0; i < 100; i++) {
              now = await held(w);
              if (JSON.stringify(now) === JSON.stringify(want)) break;
              await new Promise((r) => setTimeout(r, 20));
            }
            return now;
          };
          const holders = Array.from({ length: 8 }, hold);
          try {
            assertEquals(await held(w), [256]);
            assertEquals(got(), 1, "8 x 32 unread: the namespace's quota is full, one is allowed");
            assertEquals(await heldBecomes([256]), [256], "the one read and its connection closed");
            for (const fd of holders.splice(0, 4)) closeFd(fd);
            assertEquals(await heldBecomes([128]), [128], "4 holders hung up");
            assertEquals(got(), 32, "their 128 are free");
            holders.push(...Array.from({ length: 4 }, hold));
            assertEquals(got(), 1, "full again");
            // Read every held reply, connections open: the broker finds them
            // read when the counts alone would exceed the quota, and resets them.
            for (const fd of holders) {
              for (const f of recvPacket(fd, P.PACKET_MAX)?.fds ?? []) closeFd(f);
            }
            assertEquals(await held(w), [256]);
            assertEquals(got(), 32, "all delivered: a full batch again");
            assertEquals(await heldBecomes([]), [], "the counts were reset");
          } finally {
            for (const fd of holders) closeFd(fd);
          }
          assertEquals(await heldBecomes([]), []);
        },
      );

      await t.step("ep del, then the endpoint is gone and a second del is refused", () => {
        brokerDel("t-fixed", [], sock);
        throws(
          () => brokerSocket(ask("t-fixed"), sock),
          refusedWith(Errno.EADDRNOTAVAIL, /t-fixed/),
        );
        throws(() => brokerDel("t-fixed", [], sock), refusedWith(Errno.ENOENT, /no endpoint/));
        assertEquals(brokerList([], sock).length, 2);
      });
    } finally {
      await stopBroker(w);
      ok(!(await exists(sock)), "the broker removed its socket");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** An endpoint list asked on `fd`: true when answered (the connection is still served). */
function answered(fd: number, seq: number): boolean {
  try {
    if (!sendPacket(fd, P.encodeJson(P.Op.EP_LIST, seq, {}))) return false;
    const r = recvPacket(fd, 65536);
    return !!r && P.decodeJson(r.data)?.ok === true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "one uid's share of --max is counted as its connections come and go",
  ignore: !root,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "graft-broker-test-" });
    const sock = `${dir}/graft.sock`;
    const w = await startBroker(sock, 8); // a uid may hold 4
    const open = new Set<number>();
    const pause = () => new Promise((r) => setTimeout(r, 5)); // a distinct lastActive each
    const conn = async (): Promise<number> => {
      await pause();
      const fd = seqpacketConnect(sock);
      setTimeouts(fd, 5_000);
      open.add(fd);
      ok(answered(fd, open.size), "a new connection is served");
      return fd;
    };
    const hangUp = (fd: number) => (open.delete(fd), closeFd(fd));
    try {
      const c1 = await conn(), c2 = await conn(), c3 = await conn(), c4 = await conn();
      hangUp(c1), hangUp(c2);
      ok(answered(c3, 100), "c3 served after c1 and c2 hung up"); // their hangups are read by then
      const c5 = await conn(), c6 = await conn(); // 4 again: no one is evicted
      ok(answered(c4, 101), "c4 (the idlest then) kept: two hung up, two came");
      ok(answered(c3, 102), "c3 kept");
      await conn(); // a fifth: the idlest of the uid goes, c5
      ok(!answered(c5, 103), "c5, the idlest, evicted for the fifth");
      for (const [i, c] of [c3, c4, c6].entries()) ok(answered(c, 104 + i), "the others kept");
    } finally {
      for (const fd of open) closeFd(fd);
      await stopBroker(w);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
