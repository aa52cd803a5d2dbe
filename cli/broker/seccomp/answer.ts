/**
 * How the supervisor answers a trapped call, and writing a result into the
 * caller's memory safely (the caller's PID may be reused meanwhile: only a
 * notification still pending after the memory was opened proves it was not).
 *
 * @module
 */

import { closeFd, Errno } from "../../sys/ffi.ts";
import {
  memRead,
  memWrite,
  type Notification,
  notifIdValid,
  openMemory,
} from "../../sys/seccomp.ts";

/**
 * The answer to a notification: let the call run (continue), a return value,
 * an errno, "gone" (the caller went away), or "later" (the supervisor answers
 * when it can, e.g. a blocking accept()).
 */
export type Answer = { continue: true } | { val: number } | { error: number } | "gone" | "later";

const EFAULT = 14;

/** Let the kernel run the call as the program made it. */
export const CONTINUE: Answer = { continue: true };

/**
 * Store a socket address the way getsockname(), getpeername() and accept()
 * do: `*lenPtr` says how much room `addrPtr` has; at most that much of
 * `name` is written, and `*lenPtr` becomes the full length. Both pointers
 * NULL: nothing to store (accept). Returns the answer to give on success
 * (`ok`), an errno, or "gone".
 */
export function storeName(
  listener: number,
  n: Notification,
  addrPtr: bigint,
  lenPtr: bigint,
  name: Uint8Array,
  ok: Answer,
): Answer {
  if (addrPtr === 0n && lenPtr === 0n) return notifIdValid(listener, n.id) ? ok : "gone";
  if (addrPtr === 0n || lenPtr === 0n) return { error: EFAULT };
  const mem = openMemory(n.pid);
  if (mem === undefined) return "gone";
  try {
    if (!notifIdValid(listener, n.id)) return "gone";
    const lenb = memRead(mem, lenPtr, 4);
    if (!lenb) return { error: EFAULT };
    const room = new DataView(lenb.buffer).getInt32(0, true);
    if (room < 0) return { error: Errno.EINVAL };
    const full = new Uint8Array(4);
    new DataView(full.buffer).setUint32(0, name.length, true);
    if (!memWrite(mem, addrPtr, name.subarray(0, Math.min(room, name.length)))) {
      return { error: EFAULT };
    }
    return memWrite(mem, lenPtr, full) ? ok : { error: EFAULT };
  } finally {
    closeFd(mem);
  }
}
