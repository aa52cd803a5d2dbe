import { deepStrictEqual as assertEquals, match } from "node:assert/strict";
import { Cap, NO_CAPS } from "../../sys/peer.ts";
import { isAdministrator } from "./agent.ts";

const root = { pid: 1234, uid: 0, gid: 0 };
const netAdmin = 1n << BigInt(Cap.NET_ADMIN);

Deno.test("isAdministrator(): root with CAP_NET_ADMIN in the initial user namespace only", () => {
  assertEquals(isAdministrator(root, { effective: netAdmin, initUserns: true }), undefined);
  match(isAdministrator({ ...root, uid: 65534 }, undefined)!, /uid 65534 is not root/);
  match(isAdministrator(root, { effective: 0n, initUserns: true })!, /lacks CAP_NET_ADMIN/);
  match(
    isAdministrator(root, { effective: netAdmin, initUserns: false })!,
    /another user namespace/,
  );
  // Still running, but its credentials no longer match what it connected with.
  match(isAdministrator(root, NO_CAPS)!, /credentials changed/);
  // Gone already (runc run -d): the uid recorded at connect decides.
  assertEquals(isAdministrator(root, undefined), undefined);
});
