// Analyzer of what proxyless gRPC clients cannot do: fields of VirtualServices and DestinationRules for gRPC services that such clients ignore or read differently.
import type { FieldPath } from '../config/check.ts';
import type { ResourceKey } from '../config/resource.ts';
import type {
  DestinationRuleModel,
  HttpRoute,
  MeshSnapshot,
  TrafficPolicy,
  VirtualServiceModel,
} from '../model/types.ts';
import type { AnalysisFinding } from './types.ts';

/** Retry conditions gRPC clients implement (gRFC A44); the others are Envoy's HTTP conditions. */
const GRPC_RETRY_ON = new Set([
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

/** One unsupported field: where it is and what it means for a proxyless client. */
interface Gap {
  path: FieldPath;
  what: string;
}

/** Whether proxyless gRPC clients may call `host`: a known service with a GRPC port. */
function servesGrpc(snapshot: MeshSnapshot, host: string): boolean {
  return snapshot.services.get(host)?.ports.some((p) => p.protocol === 'GRPC') ?? false;
}

function finding(key: ResourceKey, host: string, gap: Gap): AnalysisFinding {
  return {
    code: 'ProxylessUnsupported',
    resource: key,
    path: gap.path,
    message: `proxyless gRPC clients (xds:/// targets) of ${host} ${gap.what}; sidecars are unaffected`,
    hint: `ignore this if only sidecars call ${host}; otherwise see docs/xds.md, "Proxyless gRPC"`,
  };
}

/** The gaps of one HTTP route for proxyless clients. */
function routeGaps(rule: HttpRoute, at: FieldPath): Gap[] {
  const gaps: Gap[] = [];
  const add = (field: string, what: string) => gaps.push({ path: [...at, field], what });
  if (rule.redirect) add('redirect', 'do not get this route (gRPC has no redirects)');
  if (rule.directResponse) add('directResponse', 'do not get this route (gRPC has no direct responses)');
  if (rule.rewrite) add('rewrite', 'ignore rewrite');
  if (rule.mirrors.length > 0) add('mirror', 'ignore mirroring');
  if (rule.headers) add('headers', 'ignore header manipulation');
  if (rule.cors) add('corsPolicy', 'ignore corsPolicy');
  const retries = rule.retries;
  if (retries) {
    const ignored = retries.retryOn.filter((c) => !GRPC_RETRY_ON.has(c));
    if (ignored.length > 0)
      gaps.push({
        path: [...at, 'retries', 'retryOn'],
        what: `retry only on gRPC status conditions (${[...GRPC_RETRY_ON].join(', ')}), not on ${ignored.join(', ')} (gRFC A44)`,
      });
    if (retries.perTryTimeoutMs !== undefined)
      gaps.push({ path: [...at, 'retries', 'perTryTimeout'], what: 'ignore perTryTimeout (gRFC A44)' });
  }
  for (const [i, m] of rule.matches.entries())
    if (m.queryParams.length > 0)
      gaps.push({
        path: [...at, 'match', i, 'queryParams'],
        what: 'never match queryParams (gRPC has none)',
      });
  return gaps;
}

/** The gaps of one traffic policy for proxyless clients. */
function policyGaps(policy: Omit<TrafficPolicy, 'portLevelSettings'>, at: FieldPath): Gap[] {
  const gaps: Gap[] = [];
  const add = (path: FieldPath, what: string) => gaps.push({ path: [...at, ...path], what });
  const od = policy.outlierDetection;
  const consecutive =
    od?.consecutive5xxErrors !== undefined ? 'consecutive5xxErrors' : 'consecutiveGatewayErrors';
  if (od?.consecutive5xxErrors !== undefined || od?.consecutiveGatewayErrors !== undefined)
    add(
      ['outlierDetection', consecutive],
      `implement no consecutive-error ejection (gRFC A50): ${consecutive}: N ejects a host that failed more than 99% of at least N calls within one interval, and any non-OK gRPC status counts as a failure`,
    );
  if (od?.consecutiveLocalOriginFailures !== undefined)
    add(['outlierDetection', 'consecutiveLocalOriginFailures'], 'ignore consecutiveLocalOriginFailures');
  const lb = policy.loadBalancer;
  if (lb && 'simple' in lb && (lb.simple === 'LEAST_REQUEST' || lb.simple === 'RANDOM'))
    add(['loadBalancer', 'simple'], `get ROUND_ROBIN instead of ${lb.simple}`);
  if (lb && 'consistentHash' in lb) {
    add(
      ['loadBalancer', 'consistentHash'],
      "get ROUND_ROBIN when they are gRPC C-core before 1.52 (e.g. Debian 12's python3-grpcio 1.51), whose ring hash crashes the client (grpc/grpc#31766)",
    );
    const key = lb.consistentHash.key;
    if ('httpCookie' in key || 'httpQueryParameterName' in key)
      add(
        ['loadBalancer', 'consistentHash', 'httpCookie' in key ? 'httpCookie' : 'httpQueryParameterName'],
        'hash each call at random (gRFC A42 hashes only headers and the channel)',
      );
    if ('useSourceIp' in key)
      add(
        ['loadBalancer', 'consistentHash', 'useSourceIp'],
        'hash their channel id instead of the source IP',
      );
    if (lb.consistentHash.algorithm === 'MAGLEV')
      add(['loadBalancer', 'consistentHash', 'maglev'], 'get RING_HASH instead of MAGLEV');
  }
  if (policy.tls?.mode === 'SIMPLE' || policy.tls?.mode === 'MUTUAL')
    add(
      ['tls', 'mode'],
      `cannot originate TLS from files (${policy.tls.mode}; gRPC takes certificates only from its bootstrap's providers, gRFC A29): their calls are plaintext`,
    );
  const pool = policy.connectionPool;
  for (const [group, settings] of Object.entries(pool ?? {}))
    for (const field of Object.keys(settings ?? {}))
      if (!(group === 'http' && field === 'http2MaxRequests'))
        add(
          ['connectionPool', group, field],
          `ignore connectionPool.${group}.${field} (only http2MaxRequests applies)`,
        );
  return gaps;
}

/** Every traffic policy of a DestinationRule with its path. */
function policiesOf(
  rule: DestinationRuleModel,
): { policy: Omit<TrafficPolicy, 'portLevelSettings'>; at: FieldPath }[] {
  const out: { policy: Omit<TrafficPolicy, 'portLevelSettings'>; at: FieldPath }[] = [];
  const add = (policy: TrafficPolicy | undefined, at: FieldPath) => {
    if (!policy) return;
    out.push({ policy, at });
    for (const [i, port] of policy.portLevelSettings.entries())
      out.push({ policy: port, at: [...at, 'portLevelSettings', i] });
  };
  add(rule.trafficPolicy, ['spec', 'trafficPolicy']);
  for (const [i, subset] of rule.subsets.entries())
    add(subset.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy']);
  return out;
}

/** Fields proxyless gRPC clients ignore or read differently, in VirtualServices and DestinationRules for gRPC services. */
export function proxylessGaps(
  snapshot: MeshSnapshot,
  services: readonly { key: ResourceKey; model: VirtualServiceModel }[],
  rules: readonly { key: ResourceKey; model: DestinationRuleModel }[],
): AnalysisFinding[] {
  const out: AnalysisFinding[] = [];
  for (const { key, model } of services) {
    if (key.kind !== 'VirtualService' || (model.gateways.length > 0 && !model.gateways.includes('mesh')))
      continue;
    const host = model.hosts.find((h) => servesGrpc(snapshot, h));
    if (!host) continue;
    for (const [i, rule] of model.http.entries())
      for (const gap of routeGaps(rule, ['spec', 'http', i])) out.push(finding(key, host, gap));
  }
  for (const { key, model } of rules) {
    if (!servesGrpc(snapshot, model.host)) continue;
    for (const { policy, at } of policiesOf(model))
      for (const gap of policyGaps(policy, at)) out.push(finding(key, model.host, gap));
  }
  return out;
}
