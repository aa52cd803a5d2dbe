/**
 * A batch of 32 sockets from libgraft-native.so (the client-socket stock's
 * refill) is made in the target namespace, as the owner, bound to the
 * endpoint's address with its options, whichever way the library makes it:
 * through io_uring (native/uring.c), with plain system calls (GRAFT_URING=0,
 * or io_uring_setup() refused by seccomp), or after a socket() went to an
 * io-wq worker, which the library must notice (GRAFT_URING=punt). Each case
 * runs in a child process (the library decides once per thread) that reports
 * what it sees from the kernel's side: the socket's namespace (SIOCGSKNS),
 * owner (the inode's uid), address (getsockname) and option (getsockopt).
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { C, closeFd, libc, openFd } from "./ffi.ts";
import { makeSockets } from "./native.ts";

const SELF = new URL(import.meta.url).pathname;
const OWNER = 4242;
const COUNT = 32;
const SYS_IOCTL = 16n;
const SYS_PRCTL = 157n;
const SYS_SECCOMP = 317n;
const SYS_IO_URING_SETUP = 425;
const SIOCGSKNS = 0x894cn;

/** What a child saw of its batch: how many sockets pass each check. */
interface Report {
  made: number;
  inTarget: number;
  owned: number;
  bound: number;
  reuseaddr: number;
  /** io_uring descriptors the process holds after the batch. */
  rings: number;
}

/** This thread's io_uring_setup() fails with EPERM from here on (x86_64). */
function denyIoUringSetup(): void {
  const i64 = "i64" as const;
  const { symbols } = Deno.dlopen("libc.so.6", {
    syscall: { parameters: [i64, i64, i64, i64, i64, i64], result: i64 }, // prctl wants 0s in all
  });
  // ld arch; jne x86_64 -> allow; ld nr; jne io_uring_setup -> allow; errno EPERM; allow
  const prog: [number, number, number, number][] = [
    [0x20, 0, 0, 4],
    [0x15, 0, 3, 0xc000003e],
    [0x20, 0, 0, 0],
    [0x15, 0, 1, SYS_IO_URING_SETUP],
    [0x06, 0, 0, 0x00050000 | 1],
    [0x06, 0, 0, 0x7fff0000],
  ];
  const filter = new Uint8Array(8 * prog.length);
  const fv = new DataView(filter.buffer);
  prog.forEach(([code, jt, jf, k], i) => {
    fv.setUint16(8 * i, code, true);
    fv.setUint8(8 * i + 2, jt);
    fv.setUint8(8 * i + 3, jf);
    fv.setUint32(8 * i + 4, k, true);
  });
  const fprog = new Uint8Array(16);
  const pv = new DataView(fprog.buffer);
  pv.setUint16(0, prog.length, true);
  pv.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(filter))), true);
  const ptr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(fprog)));
  if (symbols.syscall(SYS_PRCTL, 38n, /* PR_SET_NO_NEW_PRIVS */ 1n, 0n, 0n, 0n) !== 0n) {
    throw new Error("prctl(PR_SET_NO_NEW_PRIVS)");
  }
  if (symbols.syscall(SYS_SECCOMP, 1n, /* SET_MODE_FILTER */ 0n, ptr, 0n, 0n) !== 0n) {
    throw new Error("seccomp(SECCOMP_SET_MODE_FILTER)");
  }
}

/** In the child: make the batch in namespace `ns` and look at every socket. */
function makeAndCheck(ns: string): Report {
  const one = new Uint8Array([1, 0, 0, 0]);
  const sa = new Uint8Array(16);
  sa.set([C.AF_INET, 0, 0, 0, 127, 0, 0, 2]); // 127.0.0.2 port 0
  const target = openFd(ns === "" ? "/proc/self/ns/net" : `/run/netns/${ns}`);
  const home = openFd("/proc/self/ns/net");
  const r = makeSockets({
    family: C.AF_INET,
    type: C.SOCK_STREAM,
    protocol: 0,
    netns: ns === "" ? undefined : { target, home },
    owner: ns === "" ? 0 : OWNER,
    count: COUNT,
    listen: false,
    getName: false,
    sa,
    opts: [
      { level: C.IPPROTO_IP, name: C.IP_BIND_ADDRESS_NO_PORT, value: one, optional: false },
      // ENOPROTOOPT on an IPv4 socket: skipped, and the rest still applied
      { level: C.IPPROTO_IPV6, name: C.IPV6_V6ONLY, value: one, optional: true },
      { level: C.SOL_SOCKET, name: C.SO_REUSEADDR, value: one, optional: false },
    ],
  });
  const nsIno = Deno.statSync(ns === "" ? "/proc/self/ns/net" : `/run/netns/${ns}`).ino;
  const rep: Report = { made: r.made, inTarget: 0, owned: 0, bound: 0, reuseaddr: 0, rings: 0 };
  for (const fd of r.fds) {
    const nsFd = Number(libc().syscall(SYS_IOCTL, BigInt(fd), SIOCGSKNS, 0n));
    if (nsFd >= 0 && Deno.statSync(`/proc/self/fd/${nsFd}`).ino === nsIno) rep.inTarget++;
    if (nsFd >= 0) closeFd(nsFd);
    if (Deno.statSync(`/proc/self/fd/${fd}`).uid === OWNER) rep.owned++;
    const addr = new Uint8Array(16);
    const len = new Uint32Array([16]);
    libc().getsockname(fd, addr, new Uint8Array(len.buffer));
    if (addr.subarray(0, 8).join() === sa.subarray(0, 8).join()) rep.bound++;
    const val = new Int32Array(1);
    libc().getsockopt(
      fd,
      C.SOL_SOCKET,
      C.SO_REUSEADDR,
      new Uint8Array(val.buffer),
      new Uint8Array(len.buffer),
    );
    if (val[0] === 1) rep.reuseaddr++;
  }
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${e.name}`) === "anon_inode:[io_uring]") rep.rings++;
    } catch { /* the directory's own descriptor */ }
  }
  for (const fd of r.fds) closeFd(fd);
  closeFd(target);
  closeFd(home);
  return rep;
}

if (Deno.args[0] === "child") {
  if (Deno.args[2] === "seccomp") denyIoUringSetup();
  // A batch in this process's own namespace first: a worker that made its
  // sockets would stay there, and make the next batch's there too.
  if (Deno.args[2] === "warm") makeAndCheck("");
  console.log(JSON.stringify(makeAndCheck(Deno.args[1])));
  Deno.exit(0);
}

/** Whether this kernel lets the library use io_uring (6.11+, io_uring_disabled 0). */
function uringExpected(): boolean {
  const [major, minor] = Deno.osRelease().split(".").map(Number);
  const disabled = Deno.readTextFileSync("/proc/sys/kernel/io_uring_disabled").trim();
  return (major > 6 || (major === 6 && minor >= 11)) && disabled === "0";
}

async function child(ns: string, env: Record<string, string>, extra = ""): Promise<Report> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", SELF, "child", ns, extra],
    env,
  }).output();
  const err = new TextDecoder().decode(out.stderr).trim();
  assertEquals([out.code, err], [0, ""], `child ${JSON.stringify(env)} ${extra}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test({
  name:
    "a 32-socket batch is made in the target namespace, as the owner, bound with its options: " +
    "through io_uring, with system calls, and after a punted socket()",
  ignore: Deno.uid() !== 0,
  async fn() {
    const ns = `graft-nbatch-${Deno.pid}`;
    await ip("netns", "add", ns);
    try {
      await ip("-n", ns, "link", "set", "lo", "up");
      const all = { made: COUNT, inTarget: COUNT, owned: COUNT, bound: COUNT, reuseaddr: COUNT };
      const rings = uringExpected() ? 1 : 0;
      if (!rings) {
        console.log(`io_uring cannot make sockets on ${Deno.osRelease()}: system calls only`);
      }
      assertEquals(
        await child(ns, {}),
        { ...all, rings },
        "default (io_uring when the kernel has it)",
      );
      assertEquals(await child(ns, { GRAFT_URING: "0" }), { ...all, rings: 0 }, "GRAFT_URING=0");
      assertEquals(
        await child(ns, {}, "seccomp"),
        { ...all, rings: 0 },
        "io_uring_setup() refused",
      );
      // every socket() goes to a worker: caught, the ring closed, the batch made again by system calls
      assertEquals(
        await child(ns, { GRAFT_URING: "punt" }, "warm"),
        { ...all, rings: 0 },
        "punted socket()",
      );
    } finally {
      await ip("netns", "del", ns);
    }
  },
});
