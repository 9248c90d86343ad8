// Test helper: builds MeshSnapshots from compact model objects, for xDS generator and server tests.
import type {
  DestinationRuleModel,
  HttpMatch,
  HttpRoute,
  MeshSnapshot,
  Service,
  ServicePort,
  VirtualServiceModel,
  Workload,
} from '../../src/model/types.ts';

export const SUFFIX = 'cluster.local';

/** A Kubernetes-style service `name.ns.svc.cluster.local` selecting `app=name`. */
export function service(
  name: string,
  ports: (Partial<ServicePort> & { number: number })[],
  extra: Partial<Service> = {},
): Service {
  const namespace = extra.namespace ?? 'default';
  return {
    hostname: `${name}.${namespace}.svc.${SUFFIX}`,
    name,
    namespace,
    ports: ports.map((p) => ({ name: p.name ?? 'http', protocol: p.protocol ?? 'HTTP', ...p })),
    selector: { app: name },
    endpoints: [],
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    subjectAltNames: [],
    origin: { kind: 'ServiceEntry', namespace, name },
    ...extra,
  };
}

/** A WorkloadEntry-like workload. */
export function workload(
  name: string,
  address: string,
  labels: Record<string, string>,
  extra: Partial<Workload> = {},
) {
  const w: Workload = {
    uid: `WorkloadEntry/default/${name}`,
    name,
    namespace: 'default',
    address,
    labels,
    serviceAccount: 'default',
    ports: {},
    weight: 1,
    health: 'HEALTHY',
    source: 'WorkloadEntry',
    ...extra,
  };
  return w;
}

/** An HttpMatch with defaults filled in. */
export function match(m: Partial<HttpMatch>): HttpMatch {
  return { ignoreUriCase: false, headers: [], queryParams: [], ...m };
}

/** An HttpRoute with defaults filled in. */
export function httpRoute(r: Partial<HttpRoute>): HttpRoute {
  return { name: '', matches: [], mirrors: [], ...r };
}

export function virtualService(
  name: string,
  hosts: string[],
  http: HttpRoute[],
  extra: Partial<VirtualServiceModel> = {},
) {
  const vs: VirtualServiceModel = {
    name,
    namespace: 'default',
    hosts,
    gateways: ['mesh'],
    http,
    tcp: [],
    exportTo: [],
    ...extra,
  };
  return vs;
}

export function destinationRule(
  host: string,
  extra: Partial<DestinationRuleModel> = {},
): DestinationRuleModel {
  return { name: host.split('.')[0], namespace: 'default', host, subsets: [], exportTo: [], ...extra };
}

/** A snapshot with derived maps computed the way the model defines them. */
export function snapshot(parts: {
  version?: number;
  /** Default: `version` (every snapshot a full change); equal to the previous one's: endpoints only. */
  configVersion?: number;
  services?: Service[];
  workloads?: Workload[];
  virtualServices?: VirtualServiceModel[];
  destinationRules?: DestinationRuleModel[];
}): MeshSnapshot {
  const services = new Map((parts.services ?? []).map((s) => [s.hostname, s]));
  const workloads = parts.workloads ?? [];
  const endpointsByHost = new Map<string, Workload[]>();
  for (const s of services.values()) {
    const selected = s.selector
      ? workloads.filter((w) => Object.entries(s.selector!).every(([k, v]) => w.labels[k] === v))
      : [];
    endpointsByHost.set(s.hostname, [...selected, ...s.endpoints]);
  }
  const virtualServices = parts.virtualServices ?? [];
  const virtualServicesByHost = new Map<string, VirtualServiceModel[]>();
  for (const vs of virtualServices) {
    for (const host of vs.hosts)
      virtualServicesByHost.set(host, [...(virtualServicesByHost.get(host) ?? []), vs]);
  }
  return {
    version: parts.version ?? 1,
    configVersion: parts.configVersion ?? parts.version ?? 1,
    mesh: {
      trustDomain: SUFFIX,
      rootNamespace: 'istio-system',
      domainSuffix: SUFFIX,
      outboundTrafficPolicy: 'ALLOW_ANY',
      pathNormalization: 'BASE',
    },
    services,
    workloads,
    endpointsByHost,
    virtualServices,
    virtualServicesByHost,
    destinationRules: new Map((parts.destinationRules ?? []).map((d) => [d.host, d])),
  };
}
