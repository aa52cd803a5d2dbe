import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { C, check, closeFd, libc } from "../../sys/ffi.ts";
import { sockaddrIn } from "../../sys/sockaddr.ts";
import { sockName } from "../../sys/seccomp.ts";
import { NameBook, programName, unspecified } from "./names.ts";

function listener(): number {
  const fd = check("socket", libc().socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0));
  const sa = sockaddrIn(new Uint8Array([127, 0, 0, 1]), 0);
  check("bind", libc().bind(fd, sa, sa.length));
  check("listen", libc().listen(fd, 4));
  return fd;
}

function portOf(sa: Uint8Array): number {
  return new DataView(sa.buffer, sa.byteOffset).getUint16(2, false);
}

Deno.test("programName() shows what the program bound, on the listener and its connections", () => {
  const l = listener();
  const host = sockName(l)!;
  const c = check("socket", libc().socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0));
  check("connect", libc().connect(c, host, host.length));
  const a = check("accept4", libc().accept4(l, null, null, C.SOCK_CLOEXEC));
  try {
    const book = new NameBook();
    const wildcard80 = sockaddrIn(new Uint8Array(4), 80);
    book.remember(l, { family: C.AF_INET, local: wildcard80, unix: false });
    // The accepted connection shares the listener's local name: found too.
    const view = book.lookup(a)!;
    assertEquals(book.lookup(c), undefined, "the client socket was never grafted");
    assertEquals(programName(view, l), wildcard80);
    assertEquals(programName(view, a), sockaddrIn(new Uint8Array([127, 0, 0, 1]), 80));
    // A port left to the system (0) is the host's.
    const any0 = { family: C.AF_INET, local: sockaddrIn(new Uint8Array(4), 0), unix: false };
    assertEquals(portOf(programName(any0, l)), portOf(host));
    // A Unix endpoint's view is always the bound address.
    const unix = { ...any0, local: wildcard80, unix: true };
    assertEquals(programName(unix, a), wildcard80);
  } finally {
    for (const fd of [a, c, l]) closeFd(fd);
  }
});

Deno.test("unspecified() is 0.0.0.0:0 or [::]:0 of the program's family", () => {
  assertEquals(unspecified(C.AF_INET), sockaddrIn(new Uint8Array(4), 0));
  const v6 = unspecified(C.AF_INET6);
  assertEquals([v6.length, new DataView(v6.buffer).getUint16(0, true)], [28, C.AF_INET6]);
  assertEquals(v6.subarray(2).every((b) => b === 0), true);
});
