import { deepStrictEqual as assertEquals } from "node:assert/strict";
import * as P from "./proto.ts";

const HEADER = new URL("../../preload/graft_proto.h", import.meta.url).pathname;

Deno.test("proto.ts agrees with graft_proto.h on every size, offset and constant", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = `${dir}/probe.c`;
    await Deno.writeTextFile(
      src,
      `#include <stdio.h>
#include <stddef.h>
#include "${HEADER}"
int main(void) {
  printf("%zu %zu %zu %zu %zu\\n", sizeof(struct graft_hdr), sizeof(struct graft_sockopt),
         sizeof(struct graft_sock_req), sizeof(struct graft_sock_resp), sizeof(struct graft_socks_req));
  printf("%zu %zu %zu %zu %zu %zu\\n", offsetof(struct graft_sock_req, ep), offsetof(struct graft_sock_req, family),
         offsetof(struct graft_sock_req, port), offsetof(struct graft_sock_req, nopts),
         offsetof(struct graft_sock_resp, addr), offsetof(struct graft_sock_resp, msg));
  printf("%u %d %d %d %d %d %d %d\\n", GRAFT_PROTO_MAGIC, GRAFT_PROTO_VERSION, GRAFT_EPNAME_MAX,
         GRAFT_SOCKOPT_MAX, GRAFT_OP_SOCKET, GRAFT_OP_STATUS, GRAFT_OP_SOCKETS, GRAFT_SOCKETS_MAX);
  printf("%s\\n", GRAFT_DEFAULT_SOCKET);
  return 0;
}
`,
    );
    const cc = await new Deno.Command("cc", {
      args: ["-Wall", "-Werror", "-o", `${dir}/probe`, src],
    }).output();
    assertEquals(cc.code, 0, new TextDecoder().decode(cc.stderr));
    const out = new TextDecoder().decode((await new Deno.Command(`${dir}/probe`).output()).stdout)
      .trim().split("\n");
    assertEquals(
      out[0],
      `${P.Size.HDR} ${P.Size.SOCKOPT} ${P.Size.SOCK_REQ} ${P.Size.SOCK_RESP} ${P.Size.SOCKS_REQ}`,
    );
    assertEquals(out[1], "16 32 44 46 28 156");
    assertEquals(
      out[2],
      `${P.MAGIC} ${P.VERSION} ${P.EPNAME_MAX} ${P.SOCKOPT_MAX} ${P.Op.SOCKET} ${P.Op.STATUS} ` +
        `${P.Op.SOCKETS} ${P.SOCKETS_MAX}`,
    );
    assertEquals(out[3], P.DEFAULT_SOCKET);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("socket requests round-trip through encode and decode", () => {
  const req = {
    ep: "ep-test",
    family: 2,
    type: 1,
    protocol: 6,
    port: 5201,
    opts: [{ level: 1, name: 2, value: new Uint8Array([1, 0, 0, 0]) }],
  };
  const b = P.encodeSockRequest(req, 42);
  const hdr = P.getHeader(b);
  if (typeof hdr === "string") throw new Error(hdr);
  assertEquals(hdr.seq, 42);
  const back = P.decodeSockRequest(b, hdr);
  if (typeof back === "string") throw new Error(back);
  assertEquals({ ...back, hdr: undefined }, { ...req, hdr: undefined });
});

Deno.test("getHeader() and decodeSockRequest() refuse malformed packets", () => {
  assertEquals(P.getHeader(new Uint8Array(3)), "short");
  assertEquals(P.getHeader(new Uint8Array(16)), "magic");
  const b = P.encodeSockRequest({ ep: "x", family: 2, type: 1, protocol: 0, port: 0, opts: [] });
  assertEquals(P.getHeader(b.subarray(0, 40)), "length");
  const v = new DataView(b.buffer);
  v.setUint16(4, 9, true);
  assertEquals(P.getHeader(b), "version");
  v.setUint16(4, 1, true);
  const hdr = P.getHeader(b);
  if (typeof hdr === "string") throw new Error(hdr);
  v.setUint16(46, 5, true); // claims five options, carries none
  assertEquals(P.decodeSockRequest(b, hdr), "socket request length mismatch");
  v.setUint16(46, 0, true);
  b.fill(0x41, 16, 32); // name without its NUL
  assertEquals(P.decodeSockRequest(b, hdr), "endpoint name missing or not NUL-terminated");
});
