// Shared pieces of the xDS generators: the generation context, names, type URLs and small builders.

import { exportedTo } from '../../../model/lookup.ts';
import { inSidecarScope, sidecarScope } from '../../../model/sidecar-scope.ts';
import type {
  DestinationRuleModel,
  MeshSnapshot,
  Protocol,
  Service,
  ServicePort,
  SidecarModel,
  TrafficPolicy,
  Workload,
} from '../../../model/types.ts';
import type { ConfigSource, Duration, HttpFilter, ResourceMessage } from '../../../xds/messages/index.ts';
import { CONFIG_TYPE } from '../../../xds/type-urls.ts';
import type { ProxyNode } from '../node.ts';

/** Reports a model feature a generator cannot express yet; the server logs each `key` once. */
export type Warn = (key: string, message: string) => void;

/** Everything one generator call reads. Generators are pure functions of it. */
export interface GenerateContext {
  snapshot: MeshSnapshot;
  proxy: ProxyNode;
  warn: Warn;
}

/** One generated resource: its name and its message, in the typed protobufjs form of `src/xds/messages/`. */
export interface GeneratedResource<T extends ResourceMessage = ResourceMessage> {
  name: string;
  resource: T;
}

/** The extension name under which a cluster's HTTP protocol options are given. */
export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** The ADS config source: every dynamic resource comes over the same stream. */
export const ADS_CONFIG_SOURCE: ConfigSource = { ads: {}, resource_api_version: 'V3' };

/** The router HTTP filter, always last. */
export const ROUTER_FILTER: HttpFilter = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': CONFIG_TYPE.router },
};

/** Istio's cluster name for a service port (and subset): `outbound|PORT|SUBSET|HOST`. */
export function outboundClusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

/** Istio's name of the sidecar's cluster to its own app: `inbound|PORT||`. */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

export type ParsedClusterName =
  | { direction: 'outbound'; port: number; subset: string | undefined; host: string }
  | { direction: 'inbound'; port: number };

/** Reads a cluster name back; undefined when it is not one weft generates. */
export function parseClusterName(name: string): ParsedClusterName | undefined {
  const parts = name.split('|');
  if (parts.length !== 4) return undefined;
  const [direction, portText, subset, host] = parts;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535 || String(port) !== portText) return undefined;
  if (direction === 'inbound' && subset === '' && host === '') return { direction, port };
  if (direction === 'outbound' && host !== '') return { direction, port, subset: subset || undefined, host };
  return undefined;
}

/** A protobuf Duration from milliseconds; 0 gives `{}` (present, zero: "disabled" for timeouts). */
export function duration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  const out: Duration = {};
  if (seconds) out.seconds = seconds;
  if (nanos) out.nanos = nanos;
  return out;
}

/** Protocols carried as HTTP (routed by host and path); the rest are opaque TCP. */
export function isHttpProtocol(protocol: Protocol): boolean {
  return protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'UNKNOWN';
}

/** Upstream HTTP/2 for gRPC and HTTP2 ports. */
export function isHttp2Protocol(protocol: Protocol): boolean {
  return protocol === 'HTTP2' || protocol === 'GRPC';
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The Sidecar resource that scopes a sidecar proxy's outbound configuration (gateways and proxyless clients have none). */
export function proxySidecarScope(snapshot: MeshSnapshot, proxy: ProxyNode): SidecarModel | undefined {
  if (proxy.kind !== 'sidecar' || proxy.role === 'gateway') return undefined;
  return sidecarScope(snapshot, proxy.namespace, proxy.labels);
}

/** Names the Sidecar that scopes a proxy (`''` for none): a generator part key for what the scope changes. */
export function sidecarScopeKey(snapshot: MeshSnapshot, proxy: ProxyNode): string {
  const scope = proxySidecarScope(snapshot, proxy);
  return scope ? `${scope.namespace}/${scope.name}` : '';
}

/** Whether a proxy may see `service`: its `exportTo` (or MeshConfig's default), then the Sidecar scoping the proxy (egress hosts). */
export function serviceVisible(
  ctx: GenerateContext,
  service: Service,
  scope = proxySidecarScope(ctx.snapshot, ctx.proxy),
): boolean {
  if (!exportedTo(ctx.snapshot.mesh, 'service', service, ctx.proxy.namespace)) return false;
  return scope === undefined || inSidecarScope(scope, ctx.proxy.namespace, service);
}

/** The services a proxy may see (`serviceVisible`), sorted by hostname for deterministic output. */
export function visibleServices(ctx: GenerateContext): Service[] {
  const scope = proxySidecarScope(ctx.snapshot, ctx.proxy);
  return [...ctx.snapshot.services.values()]
    .filter((s) => serviceVisible(ctx, s, scope))
    .sort((a, b) => compareStrings(a.hostname, b.hostname));
}

/**
 * The service a host names, accepting the short forms a client in `namespace` may use
 * (`name`, `name.ns`, `name.ns.svc`), as Kubernetes DNS search paths would resolve them.
 */
export function resolveService(snapshot: MeshSnapshot, host: string, namespace: string): Service | undefined {
  const exact = snapshot.services.get(host);
  if (exact) return exact;
  const suffix = snapshot.mesh.domainSuffix;
  const dots = host.split('.').length - 1;
  if (dots === 0) return snapshot.services.get(`${host}.${namespace}.svc.${suffix}`);
  if (dots === 1) return snapshot.services.get(`${host}.svc.${suffix}`);
  if (host.endsWith('.svc')) return snapshot.services.get(`${host}.${suffix}`);
  return undefined;
}

export function findPort(service: Service, port: number): ServicePort | undefined {
  return service.ports.find((p) => p.number === port);
}

/** The port of a workload that serves a service port (docs/xds.md, EDS). */
export function endpointPort(workload: Workload, port: ServicePort): number {
  return workload.sidecar?.inboundPort ?? workload.ports[port.name] ?? port.targetPort ?? port.number;
}

/** True when `labels` contains every key/value of `selector`. */
export function labelsMatch(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
) {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

type PolicyFields = Omit<TrafficPolicy, 'portLevelSettings'>;

function fields(policy: PolicyFields | undefined): PolicyFields {
  return {
    loadBalancer: policy?.loadBalancer,
    connectionPool: policy?.connectionPool,
    outlierDetection: policy?.outlierDetection,
    retryBudget: policy?.retryBudget,
    tls: policy?.tls,
  };
}

/**
 * The traffic policy that applies to (host, port, subset), merged as Istio does: the rule's
 * policy, replaced entirely by its port-level settings for the port (they never inherit);
 * then each of loadBalancer / connectionPool / outlierDetection / tls the subset's policy
 * sets; then, entirely, the subset's port-level settings for the port.
 */
export function effectivePolicy(
  rule: DestinationRuleModel | undefined,
  port: number,
  subset: string | undefined,
): PolicyFields {
  const top = rule?.trafficPolicy;
  const topLevel = top?.portLevelSettings.find((p) => p.port === port);
  let merged = fields(topLevel ?? top);
  const subsetPolicy = subset ? rule?.subsets.find((s) => s.name === subset)?.trafficPolicy : undefined;
  if (subsetPolicy) {
    merged = {
      loadBalancer: subsetPolicy.loadBalancer ?? merged.loadBalancer,
      connectionPool: subsetPolicy.connectionPool ?? merged.connectionPool,
      outlierDetection: subsetPolicy.outlierDetection ?? merged.outlierDetection,
      retryBudget: subsetPolicy.retryBudget ?? merged.retryBudget,
      tls: subsetPolicy.tls ?? merged.tls,
    };
    const subsetLevel = subsetPolicy.portLevelSettings.find((p) => p.port === port);
    if (subsetLevel) merged = fields(subsetLevel);
  }
  return merged;
}
