/**
 * A program that uses only mod.ts: graft a web server running inside a
 * network namespace onto the host's 127.0.0.1:PORT, fetch a page from the
 * host side, and clean up.
 *
 * usage (as root, with `graft daemon` running or af_graft.ko loaded):
 *   deno run -A examples/graft_server.ts NETNS PORT DIR
 */
import { addEndpoint, deleteEndpoint, spawnGrafted } from "../mod.ts";

const [netns, portText, dir] = Deno.args;
if (!netns || !portText || !dir) {
  console.error("usage: graft_server.ts NETNS PORT DIR");
  Deno.exit(2);
}
const port = Number(portText);
const ep = addEndpoint(`ex-web type ipv4 addr 127.0.0.1 port ${port}`, { netns });
let server: Deno.ChildProcess | undefined;
try {
  server = spawnGrafted([
    "python3",
    "-m",
    "http.server",
    "80",
    "--bind",
    "0.0.0.0",
    "--directory",
    dir,
  ], {
    netns,
    ingress: ["0.0.0.0:80=ex-web"],
    stdout: "null",
    stderr: "null",
  });
  // The server inside the namespace is reachable on the host's loopback.
  let body = "";
  const deadline = Date.now() + 30_000; // python3 may start slowly on a loaded machine
  while (!body && Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      body = await res.text();
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!body) throw new Error(`nothing answered on 127.0.0.1:${port}`);
  console.log(`${ep.name}: ${body.trim()}`);
} finally {
  server?.kill();
  await server?.status;
  deleteEndpoint(ep.name, { netns });
}
