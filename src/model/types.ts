// The mesh model: plain, immutable types that config/ produces and the xDS generators read.
//
// One MeshSnapshot is built per change (store write or workload join/leave) and never mutated;
// generators are pure functions of (snapshot, proxy). Hostnames are always fully qualified
// (`reviews.default.svc.cluster.local`) once they reach the model.

export type Labels = Readonly<Record<string, string>>;

/** Protocols a service port can declare (Istio's names; `name: http-foo` prefixes count too). */
export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS' | 'HTTPS' | 'MONGO' | 'REDIS' | 'UNKNOWN';

export interface ServicePort {
  /** The port clients dial (the service port). */
  number: number;
  /** Port name, e.g. `http`, `grpc-web`. */
  name: string;
  protocol: Protocol;
  /** The port on workloads this maps to; defaults to `number`. Per-workload `ports[name]` overrides. */
  targetPort?: number;
}

/** A service: a hostname with ports, backed by workloads (selected by labels) or static endpoints. */
export interface Service {
  /** Fully qualified hostname, the service's identity in routing: `name.ns.svc.cluster.local`. */
  hostname: string;
  /** Short name (`reviews`), for DNS-style aliases. */
  name: string;
  namespace: string;
  ports: readonly ServicePort[];
  /** Workloads whose labels contain all of these back the service. Absent: only `endpoints`. */
  selector?: Labels;
  /** Endpoints given inline (ServiceEntry `endpoints`). */
  endpoints: readonly Workload[];
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  resolution: 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE';
  /** Service accounts whose identities may serve this service (secure naming), besides those of its workloads. */
  subjectAltNames: readonly string[];
  /** Where the service was declared, for errors and `weft get`. */
  origin: { kind: string; namespace: string; name: string };
  /** Virtual IPs or CIDRs of the service (ServiceEntry `addresses`), for TCP traffic without a Host. */
  addresses?: readonly string[];
  /** Namespaces that may see the service (`*` all, `~` none); absent: MeshConfig `defaultServiceExportTo`, else every namespace. */
  exportTo?: readonly string[];
}

/** One instance of an application: a weft sidecar, a WorkloadEntry or a ServiceEntry endpoint. */
export interface Workload {
  /** Stable id: `proxy~<node id>`, `WorkloadEntry/ns/name`, `ServiceEntry/ns/name/<i>`. */
  uid: string;
  name: string;
  namespace: string;
  /** IP address or hostname that serves the workload's ports. */
  address: string;
  labels: Labels;
  serviceAccount: string;
  /** Port name → port on this workload, overriding the service's targetPort (ServiceEntry semantics). */
  ports: Readonly<Record<string, number>>;
  /** Load-balancing weight (default 1). */
  weight: number;
  locality?: string;
  /** Workload with a weft sidecar: its inbound port terminates mesh traffic (mTLS later). */
  sidecar?: {
    /** Port of the sidecar's inbound listener; every service port of this workload is reached through it. */
    inboundPort: number;
  };
  /** Health as far as the registry knows (a proxy in its grace period after disconnect is still HEALTHY). */
  health: 'HEALTHY' | 'UNHEALTHY';
  source: 'proxy' | 'WorkloadEntry' | 'ServiceEntry';
  /**
   * The service a weft sidecar declared it fronts (`--service`, `--service-port`, protocol), from
   * its node metadata; lets the model create `name.namespace.svc.<suffix>` when no resource does.
   */
  service?: { name: string; port: number; protocol: Protocol };
  /**
   * A gateway proxy (`weft gateway`) declares several service ports, each served by its own
   * listener (`ports[name]`); the model creates `name.namespace.svc.<suffix>` with all of them.
   */
  servicePorts?: readonly ServicePort[];
}

/** How a string field is matched (Istio StringMatch). */
export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

export interface HeaderMatch {
  name: string;
  /** Absent: the header must be present (Istio `{}`); with `invert`, absent. */
  match?: StringMatch;
  /** True for `withoutHeaders`. */
  invert: boolean;
}

export interface QueryParamMatch {
  name: string;
  match?: StringMatch;
}

/** One `http[].match[]` entry: all present conditions must hold. */
export interface HttpMatch {
  name?: string;
  uri?: StringMatch;
  /** When true, uri/header matching ignores case (`ignoreUriCase`). */
  ignoreUriCase: boolean;
  method?: StringMatch;
  authority?: StringMatch;
  scheme?: StringMatch;
  headers: readonly HeaderMatch[];
  queryParams: readonly QueryParamMatch[];
  /** Only traffic to this service port. */
  port?: number;
  /** Only from workloads with these labels. */
  sourceLabels?: Labels;
  sourceNamespace?: string;
  /** Gateways this match applies to (absent: the route's gateways). */
  gateways?: readonly string[];
}

/** A weighted backend of a route. Weights of one route add up to 100 (or one destination with 100). */
export interface RouteDestination {
  host: string;
  subset?: string;
  port?: number;
  weight: number;
  /** Request header operations for traffic to this destination (Istio `route[].headers.request`). */
  headers?: HeaderOperations;
  /** Response header operations for traffic from this destination (Istio `route[].headers.response`). */
  responseHeaders?: HeaderOperations;
}

export interface HeaderOperations {
  set: Readonly<Record<string, string>>;
  add: Readonly<Record<string, string>>;
  remove: readonly string[];
}

export interface RetryPolicy {
  attempts: number;
  /** Milliseconds; absent = the route timeout. */
  perTryTimeoutMs?: number;
  /** Envoy retry_on conditions, e.g. `5xx,connect-failure,unavailable`. */
  retryOn: readonly string[];
  /** For `retriable-status-codes`. */
  retriableStatusCodes: readonly number[];
  /** Istio `backoff`: base interval of the jittered exponential back-off (Envoy's default 25 ms). */
  backoffMs?: number;
}

/** A CORS policy (Envoy's CorsPolicy): which origins may call, with what, and for how long preflights hold. */
export interface CorsPolicy {
  /** Origins allowed (empty: none; a request from any other origin gets no CORS headers). */
  allowOrigins: readonly StringMatch[];
  allowMethods: readonly string[];
  allowHeaders: readonly string[];
  exposeHeaders: readonly string[];
  /** How long a browser may cache a preflight answer, in seconds. */
  maxAgeSeconds?: number;
  allowCredentials: boolean;
  /** A preflight from an origin not allowed: forwarded upstream (Envoy's default) or answered without CORS headers. */
  unmatchedPreflights: 'FORWARD' | 'IGNORE';
}

export interface FaultPolicy {
  delay?: { fixedDelayMs: number; percentage: number };
  abort?: { httpStatus?: number; grpcStatus?: string; percentage: number };
}

export interface MirrorPolicy {
  host: string;
  subset?: string;
  port?: number;
  percentage: number;
}

/** One `http[]` entry of a VirtualService (or an equivalent rule from another dialect). */
export interface HttpRoute {
  /** Name for stats and config dumps. */
  name: string;
  /** Any one must match (OR). Empty: matches every request. */
  matches: readonly HttpMatch[];
  /** Where matching requests go; exactly one of route / redirect / directResponse. */
  route?: readonly RouteDestination[];
  /** `uriPrefix`: the matched uri prefix is replaced by it (Gateway API ReplacePrefixMatch; Envoy prefix_rewrite). */
  redirect?: {
    uri?: string;
    uriPrefix?: string;
    authority?: string;
    scheme?: string;
    port?: number;
    redirectCode: number;
  };
  directResponse?: { status: number; body?: string };
  rewrite?: { uri?: string; uriRegex?: { match: string; rewrite: string }; authority?: string };
  timeoutMs?: number;
  retries?: RetryPolicy;
  fault?: FaultPolicy;
  mirrors: readonly MirrorPolicy[];
  headers?: { request?: HeaderOperations; response?: HeaderOperations };
  /** Istio `corsPolicy`, Gateway API `CORS` filter: answered by the client side's CORS filter. */
  cors?: CorsPolicy;
}

/** One `tcp[]` entry: L4 routes by port. */
export interface TcpRoute {
  matches: readonly { port?: number; sourceLabels?: Labels; gateways?: readonly string[] }[];
  route: readonly RouteDestination[];
}

/** A VirtualService, normalised: hosts fully qualified, defaults applied. */
export interface VirtualServiceModel {
  name: string;
  namespace: string;
  hosts: readonly string[];
  /** `mesh` (sidecars) unless gateways are named; values are `ns/name` or `mesh`. */
  gateways: readonly string[];
  http: readonly HttpRoute[];
  tcp: readonly TcpRoute[];
  /** Namespaces that may use it (`*` all, `~` none); absent: MeshConfig `defaultVirtualServiceExportTo`, else every namespace. */
  exportTo?: readonly string[];
  /** `tls[]` routes: TLS traffic routed by SNI without terminating it (gateways in PASSTHROUGH mode). */
  tls?: readonly TlsRoute[];
}

/** One `tls[]` entry: TLS connections routed by the SNI of their ClientHello (not decrypted). */
export interface TlsRoute {
  matches: readonly {
    /** Server names (SNI) to match; `*.example.com` wildcards allowed. */
    sniHosts: readonly string[];
    port?: number;
    sourceLabels?: Labels;
    gateways?: readonly string[];
  }[];
  route: readonly RouteDestination[];
}

export type LoadBalancerPolicy =
  | { simple: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH' | 'UNSPECIFIED' }
  | {
      consistentHash: {
        /** What to hash on. */
        key:
          | { httpHeaderName: string }
          | { httpCookie: { name: string; path?: string; ttlMs?: number } }
          | { httpQueryParameterName: string }
          | { useSourceIp: true };
        algorithm: 'RING_HASH' | 'MAGLEV';
        minimumRingSize?: number;
        maglevTableSize?: number;
      };
    };

export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeoutMs?: number;
    idleTimeoutMs?: number;
    maxConnectionDurationMs?: number;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeoutMs?: number;
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  };
}

export interface OutlierDetectionSettings {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  consecutiveLocalOriginFailures?: number;
  intervalMs?: number;
  baseEjectionTimeMs?: number;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
  splitExternalLocalOriginErrors?: boolean;
}

export interface ClientTlsSettings {
  mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  sni?: string;
  subjectAltNames?: readonly string[];
}

/**
 * Istio's `trafficPolicy.retryBudget` (Envoy `circuit_breakers.thresholds.retry_budget`): retries in
 * flight to a cluster may be at most `percent`% of its active requests, but never fewer than
 * `minRetryConcurrency`.
 */
export interface RetryBudgetSettings {
  /** Share of active requests that may be retries, 0..100 (Envoy's default 20). */
  percent: number;
  /** Retries always allowed in flight regardless of load (Envoy's default 3). */
  minRetryConcurrency: number;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerPolicy;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetectionSettings;
  retryBudget?: RetryBudgetSettings;
  tls?: ClientTlsSettings;
  /** Per service port overrides (fields not set fall back to the policy above). */
  portLevelSettings: readonly (Omit<TrafficPolicy, 'portLevelSettings'> & { port: number })[];
}

export interface Subset {
  name: string;
  labels: Labels;
  trafficPolicy?: TrafficPolicy;
}

/** A DestinationRule, normalised. */
export interface DestinationRuleModel {
  name: string;
  namespace: string;
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets: readonly Subset[];
  /** Namespaces whose proxies it applies to (`*` all, `~` none); absent: MeshConfig `defaultDestinationRuleExportTo`, else every namespace. */
  exportTo?: readonly string[];
}

/** Mesh-wide settings (from the control plane's flags, overridden by a `MeshConfig` resource). */
export interface MeshSettings {
  trustDomain: string;
  /** Istio's root namespace for mesh-wide policy. */
  rootNamespace: string;
  /** DNS suffix of service hostnames, e.g. `cluster.local`: `<name>.<namespace>.svc.<suffix>`, as in Istio. */
  domainSuffix: string;
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Istio's meshConfig.pathNormalization.normalization: what every proxy does to request paths. */
  pathNormalization: PathNormalization;
  /** Access log and telemetry providers (MeshConfig); absent: no access log, no tracing provider. */
  telemetry?: MeshTelemetry;
  /** MeshConfig `default*ExportTo`: the visibility of resources that set no `exportTo` of their own. */
  defaultExportTo?: DefaultExportTo;
}

/**
 * Istio's MeshConfig `defaultServiceExportTo`, `defaultVirtualServiceExportTo`,
 * `defaultDestinationRuleExportTo`: entries are `.` (the resource's own namespace), `*` (every
 * namespace), `~` (none) or namespace names. Absent: every namespace.
 */
export interface DefaultExportTo {
  service?: readonly string[];
  virtualService?: readonly string[];
  destinationRule?: readonly string[];
}

/** Istio's path normalisation modes (default BASE). */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

/**
 * Everything the generators need, built once per change. Lookup maps are keyed by fully
 * qualified hostname. Lists are sorted (by namespace, name) so output is deterministic.
 */
export interface MeshSnapshot {
  /** Increases with every rebuild. */
  version: number;
  /**
   * The version of everything but endpoints: a rebuild after workloads changed only what EDS
   * reads (a replica of a known service joined or left) keeps the previous snapshot's value,
   * and then every generator other than EDS gives the same output as for the previous snapshot.
   */
  configVersion: number;
  mesh: MeshSettings;
  services: ReadonlyMap<string, Service>;
  /** Each non-wildcard service's addresses (its own, else an allocated VIP): what mesh DNS answers (model/vips.ts). Absent: none. */
  vips?: ReadonlyMap<string, readonly string[]>;
  workloads: readonly Workload[];
  /** Workloads backing each service hostname (selector matches plus inline endpoints). */
  endpointsByHost: ReadonlyMap<string, readonly Workload[]>;
  virtualServices: readonly VirtualServiceModel[];
  /** The VirtualServices that apply to each host (for sidecars: those bound to `mesh`). */
  virtualServicesByHost: ReadonlyMap<string, readonly VirtualServiceModel[]>;
  destinationRules: ReadonlyMap<string, DestinationRuleModel>;
  /**
   * Stored resources the snapshot left out because they no longer validate (e.g. written by an
   * older weft); each with the reasons. Absent or empty when every resource was used.
   */
  rejected?: readonly RejectedResource[];
  /** Telemetry resources, oldest first (read with `telemetryFor`, src/model/telemetry.ts). Absent: none. */
  telemetries?: readonly TelemetryModel[];
  /** Sidecar resources, oldest first (read with `sidecarScope`, src/model/sidecar-scope.ts). Absent: none. */
  sidecars?: readonly SidecarModel[];
  /**
   * PeerAuthentications, oldest first (Istio: within one scope the oldest wins). Absent: none.
   * Read with `peerAuthenticationFor` (src/model/policies.ts).
   */
  peerAuthentications?: readonly PeerAuthenticationModel[];
  /**
   * AuthorizationPolicies, plus SMI TrafficTargets mapped onto them, oldest first. Absent: none.
   * Read with `authorizationPoliciesFor` (src/model/policies.ts).
   */
  authorizationPolicies?: readonly AuthorizationPolicyModel[];
  /** RequestAuthentications, oldest first. Absent: none. Read with `requestAuthenticationsFor`. */
  requestAuthentications?: readonly RequestAuthenticationModel[];
  /**
   * Gateways of both dialects (Istio and Gateway API), oldest first. Absent: none. HTTPRoutes and
   * GRPCRoutes are already in `virtualServices`, normalised (src/model/gateways.ts).
   */
  gateways?: readonly GatewayModel[];
  /** VirtualServices bound to at least one gateway (not only `mesh`), oldest first (Istio merges them in that order). */
  gatewayVirtualServices?: readonly VirtualServiceModel[];
  /** Local rate limits (weft RateLimit), oldest first. Absent: none. */
  rateLimits?: readonly RateLimitModel[];
  /** Linkerd HTTPLocalRateLimitPolicies (total, per-identity, overrides), oldest first. Absent: none. */
  identityRateLimits?: readonly IdentityRateLimitModel[];
  /** Linkerd retry budgets by hostname (from ServiceProfiles; the oldest per host). Absent: none. */
  retryRatioBudgets?: ReadonlyMap<string, RetryRatioBudget>;
}

/**
 * A local rate limit enforced by the sidecars of one service on their inbound side (each proxy
 * has its own bucket): from a weft `RateLimit` (docs/resilience.md). Generated as Envoy's
 * local_ratelimit token bucket.
 */
export interface RateLimitModel {
  name: string;
  namespace: string;
  /** Which resource kind it came from (for messages). */
  kind: 'RateLimit';
  /** The service whose sidecars enforce it (fully qualified hostname). */
  host: string;
  /** Only requests of this VirtualService `http[].name` route of the host (absent: all requests). */
  route?: string;
  /** Bucket size: requests that may arrive at once. */
  maxTokens: number;
  /** Tokens added every `fillIntervalMs`. */
  tokensPerFill: number;
  fillIntervalMs: number;
}

/**
 * Linkerd's HTTPLocalRateLimitPolicy on one service's inbound side, each proxy counting alone:
 * `total` for every request, then the client's own limit keyed by its verified mTLS identity
 * (an override naming its ServiceAccount, else `identity`; all unauthenticated clients share
 * one). Rates are requests per second; a second's worth may arrive at once.
 */
export interface IdentityRateLimitModel {
  name: string;
  namespace: string;
  /** The service whose sidecars enforce it (fully qualified hostname), when no Linkerd Server is targeted. */
  host: string;
  /** `targetRef` of kind Server: its name (the policy's namespace). */
  serverName?: string;
  /** That Server, when it exists (resolved with the snapshot): its workloads' sidecars on its port enforce the policy. */
  server?: { selector: Labels; port: number | string };
  /** Requests per second for all clients together; absent: no overall limit. */
  total?: number;
  /** Requests per second for each client identity; absent: none (overrides still apply). */
  identity?: number;
  /** Rates for named clients, instead of `identity`; one override's clients share its rate. */
  overrides: readonly IdentityRateLimitOverride[];
}

/** One `overrides[]` entry of an HTTPLocalRateLimitPolicy. */
export interface IdentityRateLimitOverride {
  requestsPerSecond: number;
  /** The ServiceAccounts it names. */
  clients: readonly { namespace: string; serviceAccount: string }[];
}

/**
 * Linkerd's retry budget (ServiceProfile `spec.retryBudget`): over a sliding window of `ttlMs`,
 * retries to the service may be at most `retryRatio` × its requests, plus
 * `minRetriesPerSecond` × the window's seconds. Enforced per client proxy (docs/resilience.md).
 */
export interface RetryRatioBudget {
  retryRatio: number;
  minRetriesPerSecond: number;
  ttlMs: number;
}

/** A Linkerd ServiceProfile, normalised: its routes as a VirtualService for the host, plus its budget. */
export interface ServiceProfileModel {
  name: string;
  namespace: string;
  /** The service's fully qualified hostname (the ServiceProfile's name). */
  host: string;
  /** `spec.routes` as VirtualService http routes (matches, timeouts, retries) to the host. */
  virtualService: VirtualServiceModel;
  retryBudget?: RetryRatioBudget;
}

/** A stored resource that buildSnapshot could not use, and why. */
export interface RejectedResource {
  kind: string;
  namespace: string;
  name: string;
  /** `field: message` lines. */
  issues: readonly string[];
}

// ---- Security policies (Istio security.istio.io, SMI access) ----

/** Istio PeerAuthentication mTLS modes; `UNSET` inherits from the wider scope. */
export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';

/** A PeerAuthentication, normalised. */
export interface PeerAuthenticationModel {
  name: string;
  namespace: string;
  /**
   * `selector.matchLabels`. Absent: the policy covers its namespace, or the whole mesh when it
   * lives in the root namespace.
   */
  selector?: Labels;
  /** `mtls.mode`; `UNSET` when `mtls` is absent. */
  mode: MtlsMode;
  /** `portLevelMtls`: workload port → mode (only with a selector, as in Istio). */
  portLevelMtls: readonly { port: number; mode: MtlsMode }[];
}

/** AuthorizationPolicy actions weft enforces (`CUSTOM` is rejected at apply time). */
export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT';

/**
 * Where a request comes from. Every field is a list of Istio patterns: exact, `prefix*`,
 * `*suffix` or `*` (present); IP fields hold addresses or CIDR blocks. An absent field is not
 * checked; the fields present must all match (AND), any value of one field may (OR).
 */
export interface AuthorizationSource {
  /** Peer identities `<trust-domain>/ns/<ns>/sa/<sa>` (mTLS). */
  principals?: readonly string[];
  notPrincipals?: readonly string[];
  /** JWT principals `<iss>/<sub>`. */
  requestPrincipals?: readonly string[];
  notRequestPrincipals?: readonly string[];
  /** Peer namespaces (mTLS). */
  namespaces?: readonly string[];
  notNamespaces?: readonly string[];
  /** The connection's peer address. */
  ipBlocks?: readonly string[];
  notIpBlocks?: readonly string[];
  /** The original client address (X-Forwarded-For). */
  remoteIpBlocks?: readonly string[];
  notRemoteIpBlocks?: readonly string[];
}

/** What a request asks for; same conventions as AuthorizationSource. */
export interface AuthorizationOperation {
  /** Host header, case-insensitive. */
  hosts?: readonly string[];
  notHosts?: readonly string[];
  /** Workload ports, as decimal strings. */
  ports?: readonly string[];
  notPorts?: readonly string[];
  methods?: readonly string[];
  notMethods?: readonly string[];
  /** Paths without the query; Istio path templates (`{*}`, `{**}`) allowed. */
  paths?: readonly string[];
  notPaths?: readonly string[];
  /** SMI HTTPRouteGroup `pathRegex`: the path must match it from its start. Not an Istio field. */
  pathRegex?: string;
  /** SMI HTTPRouteGroup `headers`: name (lower case) → regex; all must match. Not an Istio field. */
  headerRegexes?: Readonly<Record<string, string>>;
}

/** One `when` condition: an Istio attribute key and the values it must (not) have. */
export interface AuthorizationCondition {
  /** e.g. `request.headers[x-token]`, `request.auth.claims[groups]`, `source.ip`. */
  key: string;
  values?: readonly string[];
  notValues?: readonly string[];
}

/** One rule: any `from` (OR) and any `to` (OR) and every `when` (AND). Empty lists match anything. */
export interface AuthorizationRule {
  from: readonly AuthorizationSource[];
  to: readonly AuthorizationOperation[];
  when: readonly AuthorizationCondition[];
}

/** An AuthorizationPolicy (or an SMI TrafficTarget mapped onto one), normalised. */
export interface AuthorizationPolicyModel {
  name: string;
  namespace: string;
  /** The resource it was read from (`AuthorizationPolicy` or `TrafficTarget`). */
  origin: { kind: string; namespace: string; name: string };
  /** `selector.matchLabels`; absent: every workload of the namespace (of the mesh in the root namespace). */
  selector?: Labels;
  /** Only workloads running as this service account in `namespace` (SMI destination). */
  serviceAccount?: string;
  /** Only workloads of `namespace`, even when it is the root namespace (a Linkerd Server's pods). */
  ownNamespace?: boolean;
  action: AuthorizationAction;
  /** Annotation `istio.io/dry-run: "true"`: evaluated and counted, never enforced (Envoy shadow rules). */
  dryRun: boolean;
  /** No rules: matches nothing (so an ALLOW policy without rules denies every request, as in Istio). */
  rules: readonly AuthorizationRule[];
}

/** One RequestAuthentication `jwtRules[]` entry. */
export interface JwtRule {
  issuer: string;
  /** Accepted `aud` values; empty: any. */
  audiences: readonly string[];
  /** Inline JWKS (JSON text). */
  jwks?: string;
  /** Where the proxy fetches the JWKS (http or https). */
  jwksUri?: string;
  /** Header locations; none of the three lists: `Authorization: Bearer` and `access_token`. */
  fromHeaders: readonly { name: string; prefix?: string }[];
  fromParams: readonly string[];
  fromCookies: readonly string[];
  /** Keep the token in the request after verification (default: removed). */
  forwardOriginalToken: boolean;
  /** Header that carries the verified payload (base64url JSON) to the app. */
  outputPayloadToHeader?: string;
  outputClaimToHeaders: readonly { header: string; claim: string }[];
  /** JWKS fetch timeout in ms (Istio `timeout`, default 5 s). */
  timeoutMs?: number;
  /** Claims whose space-separated string values are matched as lists (besides `scope` and `permission`). */
  spaceDelimitedClaims: readonly string[];
}

/** A RequestAuthentication, normalised. */
export interface RequestAuthenticationModel {
  name: string;
  namespace: string;
  /** As for AuthorizationPolicyModel. */
  selector?: Labels;
  jwtRules: readonly JwtRule[];
}

/** An SMI TrafficTarget as written; the snapshot resolves it into an AuthorizationPolicyModel. */
export interface TrafficTargetModel {
  name: string;
  namespace: string;
  /** Service account of the destination workloads (in `namespace`). */
  destination: string;
  /** Service accounts that may call. */
  sources: readonly { serviceAccount: string; namespace: string }[];
  /** HTTPRouteGroups (same namespace) and which of their matches (absent: all). */
  rules: readonly { routeGroup: string; matches?: readonly string[] }[];
}

/** One named match of an SMI HTTPRouteGroup. */
export interface HttpRouteGroupMatch {
  name: string;
  pathRegex?: string;
  /** Absent: every method (`*`). */
  methods?: readonly string[];
  /** Header name (lower case) → regex. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * An SMI TrafficSplit limited to requests matching HTTPRouteGroups (`spec.matches`): those go to
 * the split's backends, every other request for the root service to the root service itself.
 */
export interface MatchedTrafficSplitModel {
  /** The split as a VirtualService whose one http rule has no matches yet. */
  split: VirtualServiceModel;
  /** The HTTPRouteGroups named (same namespace); any one of their matches selects a request. */
  routeGroups: readonly { namespace: string; name: string }[];
}

/** An SMI HTTPRouteGroup. */
export interface HttpRouteGroupModel {
  name: string;
  namespace: string;
  matches: readonly HttpRouteGroupMatch[];
}

// ---- Gateways (Istio networking.istio.io Gateway, Gateway API Gateway/HTTPRoute/GRPCRoute) ----

/** TLS of a gateway server (Istio ServerTLSSettings; Gateway API listener `tls`). */
export interface GatewayServerTls {
  /** SIMPLE: terminate with the server certificate; MUTUAL: and require a client certificate; PASSTHROUGH: route by SNI, do not decrypt. */
  mode: 'SIMPLE' | 'MUTUAL' | 'PASSTHROUGH';
  /** PEM files on the gateway's host (SIMPLE and MUTUAL). */
  serverCertificate?: string;
  privateKey?: string;
  /** PEM CA bundle that client certificates must chain to (MUTUAL). */
  caCertificates?: string;
  /** Client certificate SANs accepted (MUTUAL); empty: any certificate from the CA. */
  subjectAltNames: readonly string[];
  minProtocolVersion?: 'TLSV1_0' | 'TLSV1_1' | 'TLSV1_2' | 'TLSV1_3';
  maxProtocolVersion?: 'TLSV1_0' | 'TLSV1_1' | 'TLSV1_2' | 'TLSV1_3';
}

/** A host a gateway server exposes, with the namespaces whose routes may bind to it. */
export interface GatewayHost {
  /** `*` (any namespace) or one namespace (Istio `ns/host`; `./host` is the Gateway's own). */
  namespace: string;
  /** Lower-case DNS name, `*.suffix` or `*`. */
  host: string;
}

/** One server (Istio) or listener (Gateway API) of a Gateway. */
export interface GatewayServer {
  /** Server name (Istio `name`, Gateway API listener name); absent: unnamed. */
  name?: string;
  port: { number: number; name: string; protocol: Protocol };
  hosts: readonly GatewayHost[];
  /** Plain HTTP requests are answered 301 to https (Istio `tls.httpsRedirect`). */
  httpsRedirect: boolean;
  /** Only for HTTPS and TLS servers. */
  tls?: GatewayServerTls;
  /**
   * Gateway API listeners only: which routes may attach. `namespaces`: `Same`, `All`, or a label
   * selector on namespace names (weft has no namespace objects; see docs/gateways.md).
   */
  allowedRoutes?: { namespaces: 'Same' | 'All'; kinds: readonly string[] };
}

/** A Gateway of either dialect, normalised: which gateway proxies it configures and what they serve. */
export interface GatewayModel {
  name: string;
  namespace: string;
  /** The API group it was written in. */
  dialect: 'istio' | 'gateway-api';
  /**
   * Gateway proxies (`weft gateway`) whose labels contain these configure themselves from it. An
   * empty selector selects every gateway proxy (Istio).
   */
  selector: Labels;
  /** Only gateway proxies in this namespace (Gateway API); absent: any namespace (Istio's default). */
  selectorNamespace?: string;
  servers: readonly GatewayServer[];
  /** Set when weft does not serve it (a Gateway API class of another controller): why; it has no servers. */
  notServed?: string;
}

/** Where an HTTPRoute/GRPCRoute attaches: a Gateway (ingress) or a Service (mesh routing, GAMMA). */
export type RouteParent =
  | { kind: 'Gateway'; namespace: string; name: string; sectionName?: string; port?: number }
  | { kind: 'Service'; namespace: string; name: string; hostname: string; port?: number };

/**
 * A Gateway API ReferenceGrant: routes of the `from` kinds and namespaces may use the `to`
 * resources of the grant's namespace (for weft: Services as backends).
 */
export interface ReferenceGrantModel {
  name: string;
  namespace: string;
  from: readonly { group: string; kind: string; namespace: string }[];
  /** `name` absent: every resource of the kind. */
  to: readonly { group: string; kind: string; name?: string }[];
}

/**
 * An HTTPRoute or GRPCRoute, normalised into VirtualService rules with their Gateway API
 * precedence; or a TCPRoute or TLSRoute, whose connections go to `streams` (no `rules`).
 */
export interface GatewayApiRouteModel {
  kind: 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute' | 'TLSRoute';
  name: string;
  namespace: string;
  parents: readonly RouteParent[];
  /** Lower-case hostnames (`*.x` allowed); empty: every hostname the parent accepts. */
  hostnames: readonly string[];
  /**
   * One rule per (rule, match) in written order; `rank` sorts them across routes (higher first,
   * compared element by element): Gateway API's match precedence.
   */
  rules: readonly { route: HttpRoute; rank: readonly number[] }[];
  /** TCPRoute, TLSRoute: the weighted backends of every connection (the first rule's, as Istio). */
  streams?: readonly RouteDestination[];
}

/** A weft `MeshConfig` resource: mesh-wide settings that can change at run time. */
export interface MeshConfigModel {
  name: string;
  namespace: string;
  outboundTrafficPolicy?: MeshSettings['outboundTrafficPolicy'];
  pathNormalization?: PathNormalization;
  /** Istio's `accessLogFile`, `accessLogEncoding`, `accessLogFormat`, `extensionProviders`, `defaultProviders`. */
  telemetry?: MeshTelemetry;
  /** Istio's `defaultServiceExportTo`, `defaultVirtualServiceExportTo`, `defaultDestinationRuleExportTo`. */
  defaultExportTo?: DefaultExportTo;
}

// ---- Telemetry (MeshConfig access log and providers, telemetry.istio.io Telemetry) ----

/** How access log lines are written: Envoy's text format string, or JSON with these keys. */
export type AccessLogEncoding = 'TEXT' | 'JSON';

/** An extension provider of MeshConfig (`extensionProviders[]`). */
export type ExtensionProvider =
  | {
      name: string;
      kind: 'envoyFileAccessLog';
      path: string;
      /** `logFormat.text` (a format string) or `logFormat.labels` (JSON keys → format strings). */
      text?: string;
      labels?: Readonly<Record<string, string>>;
    }
  | {
      name: string;
      kind: 'opentelemetry';
      /** Collector host (a mesh service FQDN, a hostname or an IP) and its OTLP/HTTP port. */
      service: string;
      port: number;
      /** OTLP/HTTP path (default `/v1/traces`). */
      path: string;
    };

/** MeshConfig's telemetry fields. */
export interface MeshTelemetry {
  /** `accessLogFile`: path (or `/dev/stdout`) of the built-in `envoy` access log; empty = off. */
  accessLogFile?: string;
  accessLogEncoding?: AccessLogEncoding;
  /** `accessLogFormat`: Envoy format string (TEXT) or a JSON object of format strings (JSON). */
  accessLogFormat?: string;
  extensionProviders?: readonly ExtensionProvider[];
  /** `defaultProviders.accessLogging` / `.tracing`: providers used where no Telemetry names one. */
  defaultProviders?: { accessLogging?: readonly string[]; tracing?: readonly string[] };
}

/** Which side of a proxy a Telemetry rule applies to (Istio's WorkloadMode). */
export type TelemetryMode = 'CLIENT' | 'SERVER' | 'CLIENT_AND_SERVER';

/** One `egress.hosts` entry of a Sidecar: `namespace/host` (`.` the proxy's namespace, `*` any, `~` none). */
export interface SidecarEgressHost {
  namespace: string;
  /** A hostname, `*.suffix` or `*`, lower case. */
  host: string;
}

/** A networking.istio.io Sidecar: the services whose outbound configuration its proxies get. */
export interface SidecarModel {
  name: string;
  namespace: string;
  /** `workloadSelector.labels`; absent: every workload of the namespace (the mesh's in the root namespace). */
  selector?: Labels;
  /** The services in scope: the one `egress` entry's hosts (every host of every namespace when it has none). */
  egressHosts: readonly SidecarEgressHost[];
}

/** A telemetry.istio.io Telemetry resource. */
export interface TelemetryModel {
  name: string;
  namespace: string;
  /** Workloads it applies to; absent = the whole namespace (the whole mesh in the root namespace). */
  selector?: Labels;
  accessLogging?: readonly { providers?: readonly string[]; disabled?: boolean; mode: TelemetryMode }[];
  tracing?: readonly {
    providers?: readonly string[];
    randomSamplingPercentage?: number;
    disableSpanReporting?: boolean;
    mode: TelemetryMode;
  }[];
}
