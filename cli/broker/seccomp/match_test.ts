import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { parseEgress, parseIngress } from "../../model/mapping.ts";
import { sockaddrIn, sockaddrIn6 } from "../../sys/sockaddr.ts";
import { parseIPv4, parseIPv6 } from "../../model/addr.ts";
import { matchEgress, matchIngress, parseInet, parseMetadata } from "./match.ts";

const v4 = (a: string, p: number) => parseInet(sockaddrIn(parseIPv4(a)!, p))!;
const v6 = (a: string, p: number) => parseInet(sockaddrIn6(parseIPv6(a)!, p))!;

Deno.test("matchIngress() follows libgraft's rules, V6ONLY included", async (t) => {
  const maps = ["0.0.0.0:80=web", "127.0.0.1:8000-8010=range", "[::1]:443=six"].map(parseIngress);
  const cases: [string, ReturnType<typeof v4>, boolean, string | undefined][] = [
    ["exact IPv4", v4("0.0.0.0", 80), false, "web"],
    ["port in range", v4("127.0.0.1", 8005), false, "range"],
    ["port outside the range", v4("127.0.0.1", 8011), false, undefined],
    ["another address", v4("10.0.0.1", 80), false, undefined],
    ["dual-stack [::] falls back to 0.0.0.0", v6("::", 80), false, "web"],
    ["V6ONLY [::] does not", v6("::", 80), true, undefined],
    ["v4-mapped falls back to the IPv4 address", v6("::ffff:127.0.0.1", 8000), false, "range"],
    ["exact IPv6", v6("::1", 443), true, "six"],
  ];
  for (const [name, addr, v6only, want] of cases) {
    await t.step(name, () => assertEquals(matchIngress(maps, addr, v6only)?.ep, want));
  }
});

Deno.test("matchEgress() takes the longest prefix; v4-mapped is IPv4", () => {
  const maps = ["0.0.0.0/0=any", "127.0.0.0/8=lo", "127.0.0.1/32=one", "::/0=six"].map(parseEgress);
  assertEquals(matchEgress(maps, v4("127.0.0.1", 1))?.ep, "one");
  assertEquals(matchEgress(maps, v4("127.0.0.2", 1))?.ep, "lo");
  assertEquals(matchEgress(maps, v4("198.18.0.1", 1))?.ep, "any");
  assertEquals(matchEgress(maps, v6("::ffff:127.0.0.9", 1))?.ep, "lo");
  assertEquals(matchEgress(maps, v6("::1", 1))?.ep, "six");
  assertEquals(matchEgress(maps.slice(1, 3), v4("10.0.0.1", 1)), undefined);
});

Deno.test("parseInet() refuses what is not a whole INET address", () => {
  assertEquals(parseInet(new Uint8Array([1, 0])), undefined); // AF_UNIX
  assertEquals(parseInet(sockaddrIn(parseIPv4("1.2.3.4")!, 5).slice(0, 8)), undefined);
  assertEquals(v4("1.2.3.4", 5).port, 5);
});

Deno.test("parseMetadata() reads graft run's mapping words and refuses others", () => {
  const m = parseMetadata(" -i 0.0.0.0:80=web  -e 10.0.0.0/8=out ", parseIngress, parseEgress);
  assertEquals([m.ingress[0].ep, m.egress[0].ep, m.egress[0].len], ["web", "out", 8]);
  assertEquals(parseMetadata("", parseIngress, parseEgress), {
    ingress: [],
    egress: [],
    namesHost: false,
  });
  assertEquals(
    parseMetadata("-i 0.0.0.0:80=web --names host", parseIngress, parseEgress).namesHost,
    true,
  );
  throws(() => parseMetadata("--names guest", parseIngress, parseEgress), /bad mapping metadata/);
  throws(() => parseMetadata("-i", parseIngress, parseEgress), /bad mapping metadata/);
  throws(() => parseMetadata("-x 1=a", parseIngress, parseEgress), /bad mapping metadata/);
  throws(() => parseMetadata("-i nope=web", parseIngress, parseEgress), /bad ingress mapping/);
});
