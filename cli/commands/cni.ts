/**
 * `graft cni`: the CNI plugin (CNI_COMMAND and friends in the environment,
 * the configuration on stdin, the result or a CNI error object on stdout),
 * and `graft cni install DIR [--conf-dir DIR]`.
 *
 * @module
 */

import { CniCode, type CniEnv, CniError, runCni } from "../containers/cni.ts";
import { UsageError } from "../model/errors.ts";
import { type Command, parseOptions } from "./options.ts";
import { installCni } from "../containers/cni_install.ts";

const USAGE =
  "graft cni                  (run by a CNI runtime: CNI_COMMAND in the environment)\n" +
  "       graft cni install DIR [--conf-dir DIR]";

function cniEnv(): CniEnv {
  const get = (k: string) => Deno.env.get(k) || undefined;
  return {
    command: get("CNI_COMMAND") ?? "",
    containerId: get("CNI_CONTAINERID"),
    netns: get("CNI_NETNS"),
    ifname: get("CNI_IFNAME"),
  };
}

async function plugin(): Promise<number> {
  const env = cniEnv();
  const stdin = env.command === "VERSION" ? "" : await new Response(Deno.stdin.readable).text();
  try {
    const out = runCni(env, stdin);
    if (out) console.log(JSON.stringify(out));
    return 0;
  } catch (e) {
    // Anything that is not already a CNI error is a failure to act: code 5 (I/O).
    const err = e instanceof CniError ? e : new CniError(CniCode.IO_FAILURE, (e as Error).message);
    const version = (() => {
      try {
        return JSON.parse(stdin).cniVersion ?? "1.1.0";
      } catch {
        return "1.1.0";
      }
    })();
    console.log(
      JSON.stringify({
        cniVersion: version,
        code: err.code,
        msg: err.message,
        details: err.details,
      }),
    );
    return 1;
  }
}

/** `graft cni`. */
export const cniCommand: Command = {
  usage: USAGE,
  async run(_g, args) {
    if (args[0] !== "install") {
      if (args.length > 0) throw new UsageError(`usage: ${USAGE}`);
      return await plugin();
    }
    const p = parseOptions({ confDir: { long: "conf-dir", value: "DIR" } }, args.slice(1), {
      command: "cni install",
      usage: USAGE,
    });
    if (p.words.length !== 1) throw new UsageError(`usage: ${USAGE}`);
    for (const line of installCni(p.words[0], p.values.confDir as string | undefined)) {
      console.log(line);
    }
    return 0;
  },
};
