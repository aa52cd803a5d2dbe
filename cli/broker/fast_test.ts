/**
 * The broker's fast paths, attacked by a client: repeated single grafts
 * answered in its wait (native/fast.c) and stock refills made and sent there
 * (native/batch.c). tests/tools/fast_check.py and batch_check.py ask from
 * one connection what it was granted (and close what they got: the broker
 * keeps no copy), another endpoint, a second request before reading the
 * first reply, the same request as another uid, and the same request after
 * the endpoint was redefined by a reload; each must get what the broker
 * itself would give (batch_check.py also checks a namespace's limit of
 * undelivered sockets). The broker runs on a worker thread with a spin
 * window long enough for a Python client. Needs root.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { brokerAdd } from "./client.ts";

const root = Deno.uid() === 0;
const TOOLS = new URL("../../tests/tools/", import.meta.url).pathname;

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

/** Run tests/tools/`script` against a broker with endpoints fa and fb; at least `checks` lines. */
async function attack(script: string, checks: number): Promise<void> {
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
      args: [TOOLS + script, socketPath, statePath, String(nobody())],
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
    ok(lines.length >= checks, `${script} stopped early:\n${lines.join("\n")}`);
    assertEquals(code, 0);
  } finally {
    await ask(w, "stop", "stopped");
    w.terminate();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "the wait answers only what it was granted (fast_check.py)",
  ignore: !root || nobody() === undefined,
  sanitizeResources: false,
  fn: () => attack("fast_check.py", 11),
});

Deno.test({
  name: "the wait sends only the refills it was granted (batch_check.py)",
  ignore: !root || nobody() === undefined,
  sanitizeResources: false,
  fn: () => attack("batch_check.py", 8),
});
