/**
 * A broker on its own thread of the test's process: the test's client calls
 * block (as libgraft.so's do), so the server cannot share their thread.
 * Messages in: { socketPath, statePath?, spinUs?, maxClients? } to start, "gc" to collect
 * garbage, "held" for the undelivered sockets per namespace, "reload" to read
 * the state file again, "stop".
 * Messages out: "listening", { gc: dropped }, { held: number[] }, "reloaded",
 * "stopped".
 */
/// <reference lib="deno.worker" />
import { Broker } from "../server.ts";

let broker: Broker | undefined;
let served: Promise<void> | undefined;

self.onmessage = async (e: MessageEvent) => {
  if (e.data === "stop") {
    broker?.stop();
    await served;
    self.postMessage("stopped");
    self.close();
  } else if (e.data === "held") {
    self.postMessage({ held: broker!.undelivered });
  } else if (e.data === "reload") {
    broker!.reload();
    self.postMessage("reloaded");
  } else if (e.data === "gc") {
    self.postMessage({ gc: broker!.collectGarbage(), size: broker!.size });
  } else {
    const { socketPath, statePath, spinUs, maxClients } = e.data;
    broker = new Broker({ socketPath, statePath, spinUs, maxClients, idleMs: 60_000 });
    broker.listen();
    served = broker.serve();
    self.postMessage("listening");
  }
};
