/**
 * The bind guard (native/guard.c): while the process that attached it lives,
 * a socket bound to an address without a port (IP_BIND_ADDRESS_NO_PORT, as
 * the broker binds the client sockets of `port dynamic` endpoints) cannot be
 * bound again, whoever tries; fresh sockets bind as before, and a socket with
 * a port gets the kernel's own EINVAL. The guard is attached in a child
 * process, which reports what its binds returned. (That it goes with its
 * process is checked by tests/security.sh once its broker has stopped: a
 * broker started by another test of this process would still hold one.)
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { C, closeFd, errno, errnoName, libc } from "./ffi.ts";
import { bindGuard } from "./native.ts";

const SELF = new URL(import.meta.url).pathname;

/** errno's name after bind() of fd to 127.0.0.1:port (IPv4) or [::1]:port, "ok" when it bound. */
function bindTo(fd: number, v6: boolean, port: number): string {
  const sa = new Uint8Array(v6 ? 28 : 16);
  const v = new DataView(sa.buffer);
  v.setUint16(0, v6 ? C.AF_INET6 : C.AF_INET, true);
  v.setUint16(2, port, false);
  if (v6) sa[23] = 1; // ::1
  else sa.set([127, 0, 0, 1], 4);
  return libc().bind(fd, sa, sa.length) === 0 ? "ok" : errnoName(errno());
}

/** The binds the guard is about, for one family: what each returned. */
function binds(v6: boolean): string[] {
  const one = new Uint8Array([1, 0, 0, 0]);
  const noPort = libc().socket(v6 ? C.AF_INET6 : C.AF_INET, C.SOCK_STREAM, 0);
  const fresh = libc().socket(v6 ? C.AF_INET6 : C.AF_INET, C.SOCK_STREAM, 0);
  try {
    libc().setsockopt(noPort, C.IPPROTO_IP, C.IP_BIND_ADDRESS_NO_PORT, one, 4);
    return [
      bindTo(noPort, v6, 0), // the broker's bind: an address, no port yet
      bindTo(noPort, v6, 0), // again: the holder moving it
      bindTo(fresh, v6, 0), // a fresh socket gets a port
      bindTo(fresh, v6, 0), // a second bind of a socket with a port
    ];
  } finally {
    closeFd(noPort);
    closeFd(fresh);
  }
}

if (Deno.args[0] === "child") {
  const g = bindGuard();
  console.log(JSON.stringify({ guard: g, v4: binds(false), v6: binds(true) }));
  Deno.exit(0);
}

Deno.test({
  name:
    "the bind guard refuses a second bind of an address-bound socket without a port, nothing else",
  ignore: Deno.uid() !== 0,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--quiet", SELF, "child"],
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    ok(r.guard.ok, `guard not attached: ${r.guard.why}`);
    ok(r.guard.cgroup.startsWith("/"), r.guard.cgroup);
    assertEquals(r.v4, ["ok", "EPERM", "ok", "EINVAL"]);
    assertEquals(r.v6, ["ok", "EPERM", "ok", "EINVAL"]);
  },
});
