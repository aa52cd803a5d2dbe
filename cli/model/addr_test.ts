import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { formatIP, parseIPv4, parseIPv6 } from "./addr.ts";

Deno.test("parseIPv6() and formatIP() round-trip to RFC 5952 text", async (t) => {
  const roundTrip = (input: string) => {
    const b = parseIPv6(input);
    assertEquals(b?.length, 16);
    return formatIP(b!);
  };
  await t.step("canonical text is kept", () => {
    for (const text of ["::1", "::", "fe80::1:2", "::ffff:127.0.0.1", "1:2:3:4:5:6:7:8"]) {
      assertEquals(roundTrip(text), text);
    }
    assertEquals(roundTrip("1:0:3:4:5:6:7:8"), "1:0:3:4:5:6:7:8", "one zero group is not ::");
  });
  await t.step("upper case and zero runs are normalised", () => {
    assertEquals(roundTrip("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    assertEquals(roundTrip("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1", "the first run on a tie");
  });
  await t.step("an IPv4-mapped address is written as a dotted quad", () => {
    assertEquals(roundTrip("::ffff:7f00:1"), "::ffff:127.0.0.1");
  });
});

Deno.test("parseIPv4() and parseIPv6() refuse malformed text", () => {
  for (const bad of ["1.2.3", "256.1.1.1", "1.2.3.4.5", "", "a.b.c.d", "01.2.3.4x"]) {
    assertEquals(parseIPv4(bad), undefined, bad);
  }
  for (const bad of ["1::2::3", ":::", "12345::", "1.2.3.4", "fe80::1%eth0", "g::1"]) {
    assertEquals(parseIPv6(bad), undefined, bad);
  }
});
