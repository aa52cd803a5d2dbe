import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { chooseEgress, formatEgress, formatIngress, parseEgress, parseIngress } from "./mapping.ts";

Deno.test("parseIngress() accepts addresses, ports and port ranges", async (t) => {
  const canonical = (input: string) => formatIngress(parseIngress(input));
  await t.step("canonical text is kept", () => {
    for (const text of ["0.0.0.0:5201=ep-test", "0.0.0.0:0-65535=ep-in4", "[::]:8000=ep6"]) {
      assertEquals(canonical(text), text);
    }
  });
  await t.step("a one-port range is written as its port", () => {
    assertEquals(canonical("127.0.0.1:80-80=lo"), "127.0.0.1:80=lo");
  });
  await t.step("an IPv6 address without brackets gets them", () => {
    assertEquals(canonical(":::8000=ep6"), "[::]:8000=ep6");
    assertEquals(canonical("::1:22=x"), "[::1]:22=x");
  });
});

Deno.test("parseIngress() refuses bad mappings with one clear line", async (t) => {
  const cases: [string, RegExp][] = [
    ["1.2.3.4=ep", /expected ADDR:PORT/],
    ["1.2.3.4:80", /expected ADDR:PORT/],
    ["1.2.3.4:80=", /expected ADDR:PORT/],
    ["1.2.3.4:70000=ep", /port "70000"/],
    ["1.2.3.4:90-80=ep", /empty/],
    ["1.2.3.4:1-2-3=ep", /bad port range/],
    ["host:80=ep", /not an IP address/],
    ["1.2.3.4:80=0123456789abcdef", /16 bytes/],
  ];
  for (const [input, re] of cases) {
    await t.step(
      input,
      () =>
        assertThrows(
          () => parseIngress(input),
          (e: Error) => e instanceof UsageError && re.test(e.message),
        ),
    );
  }
});

Deno.test("parseEgress() normalises the prefix and checks its length", () => {
  assertEquals(formatEgress(parseEgress("10.1.2.3/8=x")), "10.0.0.0/8=x");
  assertEquals(formatEgress(parseEgress("0::0/0=ep-out6")), "::/0=ep-out6");
  assertEquals(formatEgress(parseEgress("2001:db8::1/32=e")), "2001:db8::/32=e");
  assertThrows(() => parseEgress("10.0.0.0/33=x"), /prefix length "33"/);
  assertThrows(() => parseEgress("::/129=x"), /prefix length "129"/);
  assertThrows(() => parseEgress("10.0.0.0=x"), /PREFIX\/LEN/);
  assertThrows(() => parseEgress("10.0.0.0/8"), /PREFIX\/LEN/);
});

Deno.test("chooseEgress() takes the longest matching prefix of the same family", () => {
  const maps = ["0.0.0.0/0=any", "127.0.0.0/8=lo", "127.0.0.1/32=one", "::/0=v6"].map(parseEgress);
  assertEquals(chooseEgress(maps, "127.0.0.1")?.ep, "one");
  assertEquals(chooseEgress(maps, "127.0.0.2")?.ep, "lo");
  assertEquals(chooseEgress(maps, "198.18.0.1")?.ep, "any");
  assertEquals(chooseEgress(maps, "::1")?.ep, "v6");
  assertEquals(chooseEgress([parseEgress("10.0.0.0/8=x")], "11.0.0.1"), undefined);
});
