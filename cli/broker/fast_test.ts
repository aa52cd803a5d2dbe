/**
 * The broker's fast path (native/fast.c: repeated single grafts answered in
 * its wait), attacked by a client: tests/tools/fast_check.py asks from one
 * connection what it was granted (and closes what it got: the broker keeps
 * no copy), another endpoint, a second request before
 * reading the first reply, the same request as another uid, and the same
 * request after the endpoint was redefined by a reload; each must get what
 * the broker itself would give. The broker runs on a worker thread with a
 * spin window long enough for a Python client. Needs root.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { brokerAdd } from "./client.ts";

const root = Deno.uid() === 0;
const CHECK = new URL("../../tests/tools/fast_check.py", import.meta.url).pathname;

function nobody(): number | undefined {
  const line = Deno.readTextFileSync("/etc/passwd").split("\n").find((l) =>
    l.startsWith("nobody:")
  );
  return line ? Number(line.split(":")[2]) : undefined;
}

function ask(w: Worker, msg: unknown, want: string): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    w.onmessage = (e) => e.data === want ? resolve() : reject(new Error(String(e.data)));
    w.onerror = (e) => reject(e);
  });
  w.postMessage(msg);
  return done;
}

async function* linesOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let held = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (held + chunk).split("\n");
    held = parts.pop()!;
    yield* parts;
  }
  if (held) yield held;
}

Deno.test({
  name: "the wait answers only what it was granted (fast_check.py)",
  ignore: !root || nobody() === undefined,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "graft-fast-test-" });
    await Deno.chmod(dir, 0o755); // the other uid connects too
    const socketPath = `${dir}/graft.sock`;
    const statePath = `${dir}/state.json`;
    const w = new Worker(new URL("./testdata/serve_worker.ts", import.meta.url), {
      type: "module",
    });
    try {
      await ask(w, { socketPath, statePath, spinUs: 1000 }, "listening");
      brokerAdd({ name: "fa", type: "ipv4", addr: "127.0.0.1", port: "dynamic" }, [], socketPath);
      brokerAdd({ name: "fb", type: "ipv4", addr: "127.0.0.2", port: "dynamic" }, [], socketPath);
      const child = new Deno.Command("/usr/bin/python3", {
        args: [CHECK, socketPath, statePath, String(nobody())],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const stdin = child.stdin.getWriter();
      const lines: string[] = [];
      for await (const line of linesOf(child.stdout)) {
        if (line === "reload") {
          await ask(w, "reload", "reloaded");
          await stdin.write(new TextEncoder().encode("go\n"));
        } else {
          lines.push(line);
          console.log(line);
        }
      }
      await stdin.close();
      const { code } = await child.status;
      const failed = lines.filter((l) => !l.startsWith("ok "));
      assertEquals(failed, []);
      ok(lines.length >= 11, `fast_check.py stopped early:\n${lines.join("\n")}`);
      assertEquals(code, 0);
    } finally {
      await ask(w, "stop", "stopped");
      w.terminate();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
