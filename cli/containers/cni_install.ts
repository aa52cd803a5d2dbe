/**
 * `graft cni install DIR`: put the plugin where a CNI runtime looks for it
 * (an executable named `graft` in DIR, e.g. /opt/cni/bin or
 * /usr/lib/cni) and write an example conflist chaining graft after
 * `loopback`.
 *
 * @module
 */

import { GraftError } from "../model/errors.ts";

/** The example network: loopback, then graft with port mappings and egress. */
export function exampleConflist(): Record<string, unknown> {
  return {
    cniVersion: "1.1.0",
    name: "graft",
    plugins: [
      { type: "loopback" },
      { type: "graft", capabilities: { portMappings: true }, egress: true },
    ],
  };
}

/** The command line that runs this very graft (compiled binary or deno + sources). */
function selfCommand(): string[] {
  const exe = Deno.execPath();
  const main = new URL("../main.ts", import.meta.url);
  if (main.protocol !== "file:" || !/\/deno$/.test(exe)) return [exe];
  return [exe, "run", "--allow-all", "--quiet", "--no-prompt", main.pathname];
}

function shellQuote(w: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`;
}

/** Install into `dir` (and the conflist into `confDir`); returns lines saying what was written. */
export function installCni(dir: string, confDir?: string): string[] {
  try {
    Deno.mkdirSync(dir, { recursive: true });
    const plugin = `${dir}/graft`;
    const cmd = selfCommand().map(shellQuote).join(" ");
    const tmp = `${plugin}.tmp-${Deno.pid}`;
    Deno.writeTextFileSync(
      tmp,
      `#!/bin/sh\n# graft CNI plugin (written by graft cni install)\nexec ${cmd} cni "$@"\n`,
      {
        mode: 0o755,
      },
    );
    Deno.chmodSync(tmp, 0o755);
    Deno.renameSync(tmp, plugin);
    const conf = confDir ? `${confDir}/90-graft.conflist` : `${dir}/graft.conflist.example`;
    if (confDir) Deno.mkdirSync(confDir, { recursive: true });
    Deno.writeTextFileSync(conf, JSON.stringify(exampleConflist(), null, 2) + "\n");
    return [`installed ${plugin}`, `example network configuration: ${conf}`];
  } catch (e) {
    throw new GraftError(`cni install: ${(e as Error).message}`);
  }
}
