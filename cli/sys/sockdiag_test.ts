import { deepStrictEqual as assertEquals, ok, throws as assertThrows } from "node:assert/strict";
import {
  concat,
  handleDumpMessages,
  MalformedMessageError,
  NetlinkError,
  nlmsg,
  parseAttrs,
  parseMessages,
} from "./netlink.ts";
import {
  decodeInetDiag,
  decodeUnixDiag,
  dumpSockets,
  formatLocal,
  formatRemote,
  inetDiagRequest,
  unixDiagRequest,
} from "./sockdiag.ts";

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function attr(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array((4 + data.length + 3) & ~3);
  dv(out).setUint16(0, 4 + data.length, true);
  dv(out).setUint16(2, type, true);
  out.set(data, 4);
  return out;
}

function withHeader(m: Uint8Array, flags: number, seq: number, portid: number, type?: number) {
  const v = dv(m);
  if (type !== undefined) v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, portid, true);
  return m;
}

Deno.test("inetDiagRequest() builds nlmsghdr + inet_diag_req_v2", () => {
  const m = inetDiagRequest(7, 2, 6);
  assertEquals(m.length, 16 + 56);
  const v = dv(m);
  assertEquals(v.getUint32(0, true), 72); // nlmsg_len
  assertEquals(v.getUint16(4, true), 20); // SOCK_DIAG_BY_FAMILY
  assertEquals(v.getUint16(6, true), 0x301); // NLM_F_REQUEST | NLM_F_DUMP
  assertEquals(v.getUint32(8, true), 7);
  assertEquals([m[16], m[17], m[18]], [2, 6, 2]); // AF_INET, TCP, 1 << (INET_DIAG_INFO-1)
  ok((v.getUint32(20, true) & (1 << 6)) === 0, "TIME-WAIT is not asked for");
  ok((v.getUint32(20, true) & (1 << 10)) !== 0, "LISTEN is asked for");
  assertEquals(inetDiagRequest(1, 10, 17)[18], 0, "no tcp_info for UDP");
});

Deno.test("unixDiagRequest() asks for names, peers and queue lengths", () => {
  const m = unixDiagRequest(3);
  assertEquals(m.length, 16 + 24);
  assertEquals(m[16], 1); // AF_UNIX
  assertEquals(dv(m).getUint32(20, true), 0xffffffff);
  assertEquals(dv(m).getUint32(28, true), 0x15);
});

Deno.test("parseMessages() splits a datagram and validates lengths", async (t) => {
  const a = nlmsg(20, 2, 5, new Uint8Array(5)); // padded to 24
  const b = nlmsg(3, 2, 5, new Uint8Array(4));
  const msgs = parseMessages(concat(a, b));
  assertEquals(msgs.map((m) => [m.type, m.payload.length]), [[20, 5], [3, 4]]);
  await t.step("a length past the end", () => {
    const bad = a.slice();
    dv(bad).setUint32(0, 400, true);
    assertThrows(() => parseMessages(bad), MalformedMessageError);
  });
  await t.step("a length shorter than the header", () => {
    const bad = a.slice();
    dv(bad).setUint32(0, 8, true);
    assertThrows(() => parseMessages(bad), MalformedMessageError);
  });
  await t.step("trailing bytes", () => {
    assertThrows(() => parseMessages(concat(b, new Uint8Array(6))), /trailing bytes/);
  });
});

Deno.test("parseAttrs() masks flag bits and refuses bad lengths", () => {
  const m = parseAttrs(concat(attr(0x8002, Uint8Array.of(1, 2, 3)), attr(4, new Uint8Array(8))));
  assertEquals([...m.keys()], [2, 4]);
  assertEquals([...m.get(2)!], [1, 2, 3]);
  const bad = attr(1, new Uint8Array(4));
  dv(bad).setUint16(0, 12, true);
  assertThrows(() => parseAttrs(bad), /attribute 1 length 12/);
  const tiny = attr(1, new Uint8Array(0));
  dv(tiny).setUint16(0, 2, true);
  assertThrows(() => parseAttrs(tiny), MalformedMessageError);
});

function inetMsg(opts: { family: number; state: number; inode: number; info?: Uint8Array }) {
  const b = new Uint8Array(72);
  const v = dv(b);
  b[0] = opts.family;
  b[1] = opts.state;
  v.setUint16(4, 8080, false);
  v.setUint16(6, 45678, false);
  if (opts.family === 2) {
    b.set([127, 0, 0, 1], 8);
    b.set([127, 0, 0, 2], 24);
  } else {
    b[23] = 1; // ::1
  }
  v.setUint32(64, 1000, true);
  v.setUint32(68, opts.inode, true);
  return opts.info ? concat(b, attr(2, opts.info)) : b;
}

Deno.test("decodeInetDiag() reads addresses, state, inode and tcp_info bytes", () => {
  const info = new Uint8Array(232);
  dv(info).setBigUint64(120, 65n, true); // bytes_acked
  dv(info).setBigUint64(128, 4096n, true); // bytes_received
  dv(info).setBigUint64(200, 64n, true); // bytes_sent
  const s = decodeInetDiag(inetMsg({ family: 2, state: 1, inode: 99, info }), "tcp");
  assertEquals(
    [s.family, s.state, s.inode, s.localAddr, s.localPort, s.remoteAddr, s.remotePort, s.uid],
    ["ipv4", "ESTAB", 99, "127.0.0.1", 8080, "127.0.0.2", 45678, 1000],
  );
  assertEquals([s.bytesSent, s.bytesAcked, s.bytesReceived], [64, 65, 4096]);
  assertEquals([formatLocal(s), formatRemote(s)], ["127.0.0.1:8080", "127.0.0.2:45678"]);
  // An old kernel's shorter tcp_info: bytes_acked stands in for bytes_sent.
  const old = decodeInetDiag(
    inetMsg({ family: 2, state: 1, inode: 1, info: info.slice(0, 160) }),
    "tcp",
  );
  assertEquals(old.bytesSent, 65);
  // Too short to hold the counters: none reported.
  const short = decodeInetDiag(
    inetMsg({ family: 2, state: 1, inode: 1, info: info.slice(0, 104) }),
    "tcp",
  );
  assertEquals(short.bytesSent, undefined);
  const six = decodeInetDiag(inetMsg({ family: 10, state: 10, inode: 5 }), "tcp");
  assertEquals([six.state, formatLocal(six)], ["LISTEN", "[::1]:8080"]);
  assertThrows(() => decodeInetDiag(new Uint8Array(40), "tcp"), /inet_diag_msg of 40 bytes/);
  assertThrows(() => decodeInetDiag(inetMsg({ family: 7, state: 1, inode: 1 }), "udp"), /family 7/);
});

Deno.test("decodeUnixDiag() reads path, abstract names, peer and queues", () => {
  const head = new Uint8Array(16);
  head[0] = 1;
  head[1] = 5; // seqpacket
  head[2] = 10; // LISTEN
  dv(head).setUint32(4, 1234, true);
  const path = new TextEncoder().encode("/run/app.sock");
  const peer = new Uint8Array(4);
  dv(peer).setUint32(0, 77, true);
  const s = decodeUnixDiag(concat(head, attr(0, path), attr(2, peer), attr(4, new Uint8Array(8))));
  assertEquals(
    [s.inode, s.unixType, s.state, s.path, s.peerInode, s.rqueue],
    [1234, "seqpacket", "LISTEN", "/run/app.sock", 77, 0],
  );
  const abs = decodeUnixDiag(concat(head, attr(0, Uint8Array.of(0, 0x61, 0x62))));
  assertEquals(abs.path, "@ab");
  assertThrows(() => decodeUnixDiag(concat(head, attr(2, new Uint8Array(2)))), /UNIX_DIAG_PEER/);
});

Deno.test("handleDumpMessages() checks seq and port, stops at DONE, turns errors into NetlinkError", async (t) => {
  const seen: number[] = [];
  const data = (seq: number, port: number) =>
    withHeader(nlmsg(20, 0, 0, Uint8Array.of(9)), 2, seq, port);
  const done = (seq: number, code = 0) => {
    const p = new Uint8Array(4);
    dv(p).setInt32(0, code, true);
    return withHeader(nlmsg(3, 0, 0, p), 2, seq, 42);
  };
  await t.step("multi-part until NLMSG_DONE", () => {
    const on = (p: Uint8Array) => seen.push(p[0]);
    assertEquals(handleDumpMessages(parseMessages(data(5, 42)), 5, 42, "x", on), false);
    assertEquals(
      handleDumpMessages(parseMessages(concat(data(5, 42), done(5))), 5, 42, "x", on),
      true,
    );
    assertEquals(seen, [9, 9]);
  });
  await t.step("a foreign sequence number or port", () => {
    assertThrows(
      () => handleDumpMessages(parseMessages(data(6, 42)), 5, 42, "x", () => {}),
      /reply for seq 6/,
    );
    assertThrows(
      () => handleDumpMessages(parseMessages(data(5, 43)), 5, 42, "x", () => {}),
      /port 43, expected seq 5 port 42/,
    );
  });
  await t.step("NLMSG_ERROR with an extended ack", () => {
    const err = new Uint8Array(4 + 16);
    dv(err).setInt32(0, -2, true); // ENOENT
    dv(err).setUint32(4, 72, true); // the request's length (capped: header only)
    const text = attr(1, new TextEncoder().encode("no such family\0"));
    const m = withHeader(nlmsg(2, 0, 0, concat(err, text)), 0x300, 5, 42);
    let e: unknown;
    try {
      handleDumpMessages(parseMessages(m), 5, 42, "sock_diag udp dump", () => {});
    } catch (err) {
      e = err;
    }
    ok(e instanceof NetlinkError);
    assertEquals([e.code, e.extack], ["ENOENT", "no such family"]);
    ok(e.message.startsWith("sock_diag udp dump: "), e.message);
  });
  await t.step("a negative NLMSG_DONE", () => {
    assertThrows(
      () => handleDumpMessages(parseMessages(done(5, -22)), 5, 42, "x", () => {}),
      NetlinkError,
    );
  });
});

Deno.test({
  name: "dumpSockets() finds a live TCP connection with its byte counts",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    const s = await l.accept();
    await c.write(new Uint8Array(1000));
    const buf = new Uint8Array(2000);
    let got = 0;
    while (got < 1000) got += (await s.read(buf)) ?? 1000;
    try {
      const d = dumpSockets(["tcp"]);
      const listener = d.sockets.find((x) => x.localPort === port && x.state === "LISTEN");
      ok(listener && listener.inode > 0, "listener found");
      const client = d.sockets.find((x) => x.remotePort === port && x.state === "ESTAB");
      const server = d.sockets.find((x) => x.localPort === port && x.state === "ESTAB");
      ok(client && server, "both ends found");
      assertEquals([client.bytesSent, server.bytesReceived], [1000, 1000]);
      ok(
        Deno.readDirSync("/proc/self/fd").some((e) => {
          try {
            return Deno.readLinkSync(`/proc/self/fd/${e.name}`) === `socket:[${client.inode}]`;
          } catch {
            return false;
          }
        }),
        "the inode is one of our descriptors",
      );
    } finally {
      c.close();
      s.close();
      l.close();
    }
  },
});
