import { strictEqual } from "node:assert";
import { printable } from "./text.ts";

Deno.test("printable() shows control characters as \\xNN and leaves the rest", () => {
  strictEqual(printable("nginx: worker"), "nginx: worker");
  strictEqual(printable("\x1b]0;owned\x07x"), "\\x1b]0;owned\\x07x");
  strictEqual(printable("a\nb\tc\x7f\x9b"), "a\\x0ab\\x09c\\x7f\\x9b");
  strictEqual(printable("back\\x1b"), "back\\\\x1b"); // a literal backslash cannot fake an escape
  strictEqual(printable("café ☕"), "café ☕");
});
