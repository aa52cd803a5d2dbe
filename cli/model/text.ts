/**
 * Text from other processes, made safe to print.
 *
 * @module
 */

/**
 * `s` with every control character (C0, DEL, C1) shown as `\xNN`, and a
 * backslash as `\\`: a process may name itself with terminal escapes, and
 * printing them raw would let it rewrite the operator's screen.
 */
export function printable(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x5c) out += "\\\\";
    else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out;
}
