import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { endpointFromFields, formatEndpoint, parseEndpointWords } from "./endpoint.ts";

Deno.test("parseEndpointWords() reads the seed's syntax and formatEndpoint() writes it back", async (t) => {
  const lines = [
    "ep-test type ipv4 addr 127.0.0.1 port 8080",
    "ep-out type ipv4 addr 127.0.0.1 port dynamic",
    "ep6 type ipv6 addr ::1 port 443",
    "ep-app type unix path /run/app.sock",
    "ep-far type ipv4 addr 198.18.0.1 port 80 netns c2",
  ];
  for (const line of lines) {
    await t.step(
      line,
      () => assertEquals(formatEndpoint(parseEndpointWords(line.split(" "))), line),
    );
  }
});

Deno.test("parseEndpointWords() canonicalises addresses", () => {
  const ep = parseEndpointWords("x type ipv6 addr 0:0:0:0:0:0:0:1 port 1".split(" "));
  assertEquals(formatEndpoint(ep), "x type ipv6 addr ::1 port 1");
});

Deno.test("parseEndpointWords() refuses bad input naming the problem", async (t) => {
  const cases: [string, RegExp][] = [
    ["0123456789abcdef type ipv4 addr 127.0.0.1 port 1", /16 bytes; the limit is 15/],
    ["x type ipx", /unknown type "ipx"/],
    ["x type ipv4 addr 127.0.0.1 port 70000", /bad port "70000"/],
    ["x type ipv4 addr 127.0.0.1 port -1", /bad port/],
    ["x type ipv4 addr 127.0.0.1 port 0", /use "port dynamic"/],
    ["x type ipv4 addr ::1 port 1", /not an ipv4 address/],
    ["x type ipv4 addr 127.0.0.1", /"port" is required/],
    ["x type ipv4 port 1", /"addr" is required/],
    ["x type unix path rel/path", /must be absolute/],
    ["x type unix addr 1.2.3.4 port 1", /takes "path"/],
    ["x type ipv4 addr 1.2.3.4 port 1 color red", /unknown keyword "color"/],
    ["x type ipv4 type ipv6", /given twice/],
    ["x type", /needs a value/],
  ];
  for (const [line, re] of cases) {
    await t.step(line, () => assertThrows(() => parseEndpointWords(line.split(" ")), re));
  }
});

Deno.test("endpointFromFields() treats netns host as the default target", () => {
  const ep = endpointFromFields("a", { type: "unix", path: "/run/a.sock", netns: "host" });
  assertEquals(ep, { name: "a", type: "unix", path: "/run/a.sock" });
});

Deno.test("endpoint flags: reuseport on ip endpoints, abstract on unix ones, in words and JSON", () => {
  const line = "ep-rp type ipv4 addr 127.0.0.1 port 8080 reuseport netns c1";
  const ep = parseEndpointWords(line.split(" "));
  assertEquals(ep.flags, ["reuseport"]);
  assertEquals(formatEndpoint(ep), line);
  const u = endpointFromFields("ep-u", { type: "unix", path: "/run/a.sock", flags: ["abstract"] });
  assertEquals(formatEndpoint(u), "ep-u type unix path /run/a.sock abstract");
  // No flags: no key at all, so JSON and `ep show -j` stay as they were.
  assertEquals("flags" in parseEndpointWords("e type ipv6 addr ::1 port 1".split(" ")), false);
  assertThrows(() => parseEndpointWords("e type ipv4 addr 1.2.3.4 port 1 abstract".split(" ")), {
    message: /flag "abstract" is not for type ipv4/,
  });
  assertThrows(() => endpointFromFields("e", { type: "unix", path: "/a", flags: "reuseport" }), {
    message: /flag "reuseport" is not for type unix/,
  });
  assertThrows(
    () => parseEndpointWords("e type ipv4 addr 1.2.3.4 port 1 reuseport reuseport".split(" ")),
    { message: /given twice/ },
  );
});
