import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";

import { closeFd } from "./ffi.ts";
import { Cap, hasCap, NO_CAPS, peerCaps } from "./peer.ts";
import { acceptNonblock, peerCred, seqpacketListen } from "./unix.ts";

/**
 * A child (`argv`, then a Python snippet) connects to a listening socket and
 * runs `after` once connected; it stays until its stdin closes. Returns what
 * peerCaps() reads for it, and its /proc status as the kernel shows it.
 */
async function capsOf(argv: string[], after = "") {
  const dir = Deno.makeTempDirSync({ prefix: "graft-peer-test." });
  Deno.chmodSync(dir, 0o755); // other uids connect too
  const path = `${dir}/s`;
  const lfd = seqpacketListen(path);
  const py = [
    "import os, socket, sys",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)",
    `s.connect(${JSON.stringify(path)})`,
    after,
    "print('ready', flush=True)",
    "sys.stdin.read()",
  ].join("\n");
  const child = new Deno.Command(argv[0], {
    args: [...argv.slice(1), "/usr/bin/python3", "-c", py],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  try {
    const line = new TextDecoder().decode((await reader.read()).value);
    ok(line.startsWith("ready"), `child: ${line}`);
    const fd = acceptNonblock(lfd);
    ok(fd !== undefined, "the child's connection is queued");
    try {
      const cred = peerCred(fd);
      const status = Deno.readTextFileSync(`/proc/${cred.pid}/status`);
      return { caps: peerCaps(fd, cred.pid, cred.uid), status };
    } finally {
      closeFd(fd);
    }
  } finally {
    await writer.close();
    while (!(await reader.read()).done) { /* to the end: the child exits */ }
    await child.status;
    closeFd(lfd);
    Deno.removeSync(dir, { recursive: true });
  }
}

function capEff(status: string): bigint {
  return BigInt("0x" + status.match(/^CapEff:\s*([0-9a-f]+)/m)![1]);
}

Deno.test({
  name:
    "peerCaps: root with 3000 groups (a status file past the 8 KiB read) keeps its capabilities",
  ignore: Deno.uid() !== 0,
  async fn() {
    const { caps, status } = await capsOf(["env"], "os.setgroups(list(range(1, 3001)))");
    ok(status.length > 8192, `status is ${status.length} bytes`);
    assertEquals(caps, { effective: capEff(status), initUserns: true });
    ok(hasCap(caps, Cap.NET_ADMIN));
  },
});

Deno.test({
  name: "peerCaps: uid nobody has none; root of a user namespace of its own holds none over ours",
  ignore: Deno.uid() !== 0,
  async fn() {
    const nobody = await capsOf(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
    assertEquals(nobody.caps, { effective: 0n, initUserns: true });
    const userns = await capsOf(["unshare", "--user", "--map-root-user"]);
    ok(capEff(userns.status) !== 0n, "root in its own user namespace holds capabilities there");
    assertEquals(userns.caps.initUserns, false);
    ok(!hasCap(userns.caps, Cap.NET_ADMIN) && !hasCap(userns.caps, Cap.SYS_ADMIN));
  },
});

Deno.test({
  name: "peerCaps: a peer that changed uid after connecting counts as having none",
  ignore: Deno.uid() !== 0,
  async fn() {
    const { caps, status } = await capsOf(["env"], "os.setresuid(65534, 65534, 65534)");
    ok(/^Uid:\s*65534/m.test(status));
    assertEquals(caps, NO_CAPS);
  },
});
