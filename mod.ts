/**
 * graft: fast container networking by grafting a container's sockets onto
 * the host's network stack.
 *
 * An **endpoint** is a name defined in one network namespace (a container's)
 * that points at a real address in another (the host's). A grafted program's
 * `bind()` and `connect()` are converted, by the preload library, into real
 * sockets bound to endpoints — through the `af_graft` kernel module when it
 * is loaded, or through the broker (`graft daemon`) when it is not.
 *
 * Parsing and formatting need no privileges:
 *
 * ```ts
 * import { strictEqual } from "node:assert";
 * import { formatEndpoint, parseEgress, parseEndpointWords, parseIngress } from "./mod.ts";
 *
 * const ep = parseEndpointWords("ep-test type ipv4 addr 127.0.0.1 port 8080".split(" "));
 * strictEqual(formatEndpoint(ep), "ep-test type ipv4 addr 127.0.0.1 port 8080");
 * strictEqual(parseIngress("0.0.0.0:8000-8010=ep-test").portHi, 8010);
 * strictEqual(parseEgress("10.1.2.3/8=ep-out").prefix, "10.0.0.0");
 * ```
 *
 * Grafting a server that runs inside namespace `c1` onto the host's
 * 127.0.0.1:8080 (as root, with `graft daemon` running or af_graft.ko loaded):
 *
 * ```ts ignore
 * import { addEndpoint, spawnGrafted } from "./mod.ts";
 *
 * addEndpoint("ep-web type ipv4 addr 127.0.0.1 port 8080", { netns: "c1" });
 * const server = spawnGrafted(["python3", "-m", "http.server", "80"], {
 *   netns: "c1",
 *   ingress: ["0.0.0.0:80=ep-web"],
 * });
 * // ... the host reaches it at http://127.0.0.1:8080/
 * server.kill();
 * await server.status;
 * ```
 *
 * @module
 */

export {
  addEndpoint,
  deleteEndpoint,
  type EndpointOptions,
  listEndpoints,
  spawnGrafted,
  type SpawnOptions,
} from "./cli/api/endpoints.ts";
export type { BackendChoice, EndpointBackend, Where } from "./cli/backends/backend.ts";
export { selectBackend } from "./cli/backends/select.ts";
export { Broker, type BrokerOptions, type LogLevel, type PollSource } from "./cli/broker/server.ts";
export type { Header, SockOpt, SockRequest } from "./cli/broker/proto.ts";
export type { PeerCred } from "./cli/sys/unix.ts";
export type { ModeChoice, ModeDecision } from "./cli/backends/modes.ts";
export type { MapKind, NamespaceMaps } from "./cli/model/nsmap.ts";
export {
  brokerSocketPath,
  type BrokerStateHealth,
  type BrokerStatus,
  brokerStatus,
} from "./cli/broker/client.ts";
export {
  type Endpoint,
  type EndpointFields,
  type EndpointFlag,
  endpointFromFields,
  formatEndpoint,
  type InetEndpoint,
  parseEndpointWords,
  type UnixEndpoint,
} from "./cli/model/endpoint.ts";
export { BrokerError, GraftError, UsageError } from "./cli/model/errors.ts";
export { SysError } from "./cli/sys/ffi.ts";
export { kernelAvailable } from "./cli/backends/kernel.ts";
export {
  chooseEgress,
  type EgressMapping,
  formatEgress,
  formatIngress,
  type IngressMapping,
  parseEgress,
  parseIngress,
} from "./cli/model/mapping.ts";
export { NetlinkError } from "./cli/sys/netlink.ts";
export { VERSION } from "./cli/model/version.ts";
export {
  formatInspect,
  type GraftedSocket,
  inspect,
  type InspectEndpoint,
  type InspectNamespace,
  type InspectOptions,
  type InspectProcess,
  type InspectReport,
} from "./cli/api/inspect.ts";
export {
  type ApplyChange,
  applyFile,
  ApplyFileError,
  type ApplyOptions,
  type ApplyResult,
  applyText,
  exportState,
  formatApplyResult,
  type Problem,
} from "./cli/api/apply.ts";
export type { DiagProto, DiagSocket } from "./cli/sys/sockdiag.ts";
