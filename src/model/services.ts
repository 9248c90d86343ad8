// The services of a snapshot: ServiceEntry hosts plus implicit services declared by weft sidecars, and their endpoints.
import { serviceHostname, shortServiceName } from './hostnames.ts';
import { selectorMatches } from './labels.ts';
import { byWorkload, compareStrings } from './order.ts';
import type { Service, ServicePort, Workload } from './types.ts';

/**
 * Services by hostname, sorted. `declared` (ServiceEntry services, oldest resource first) win:
 * when two ServiceEntries name the same host, the oldest defines it. A sidecar workload that
 * declares `service` creates `<name>.<ns>.svc.<suffix>` (selector `app=<name>`) unless a
 * ServiceEntry already defines that host, in which case it only matches that entry's selector.
 */
export function collectServices(
  declared: readonly Service[],
  workloads: readonly Workload[],
  domainSuffix: string,
): Map<string, Service> {
  const services = new Map<string, Service>();
  for (const service of declared)
    if (!services.has(service.hostname)) services.set(service.hostname, service);

  const sidecars = new Map<string, Workload[]>();
  for (const workload of [...workloads].sort(byWorkload)) {
    if (workload.source !== 'proxy' || workload.service === undefined) continue;
    const hostname = serviceHostname(workload.service.name, workload.namespace, domainSuffix);
    if (services.has(hostname)) continue;
    sidecars.set(hostname, [...(sidecars.get(hostname) ?? []), workload]);
  }
  for (const [hostname, declaring] of sidecars)
    services.set(hostname, implicitService(hostname, declaring, domainSuffix));

  return new Map([...services].sort(([a], [b]) => compareStrings(a, b)));
}

/**
 * The service sidecars declare with `--service NAME --service-port P`: one port per distinct
 * port number (the first declaring workload, by uid order, decides its protocol), named
 * `<protocol>-<port>` so Istio's port-name convention reads the same protocol back. Gateway
 * proxies declare all their ports (`servicePorts`), which come first.
 */
function implicitService(hostname: string, declaring: readonly Workload[], domainSuffix: string): Service {
  const first = declaring[0];
  const ports = new Map<number, ServicePort>();
  for (const workload of declaring)
    for (const declared of workload.servicePorts ?? [])
      if (!ports.has(declared.number)) ports.set(declared.number, declared);
  for (const workload of declaring) {
    const declared = workload.service!;
    if (!ports.has(declared.port))
      ports.set(declared.port, {
        number: declared.port,
        name: `${declared.protocol.toLowerCase()}-${declared.port}`,
        protocol: declared.protocol,
      });
  }
  return {
    hostname,
    name: shortServiceName(hostname, domainSuffix),
    namespace: first.namespace,
    ports: [...ports.values()].sort((a, b) => a.number - b.number),
    selector: { app: first.service!.name },
    endpoints: [],
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    subjectAltNames: [],
    origin: { kind: 'Sidecar', namespace: first.namespace, name: first.service!.name },
  };
}

/**
 * The workloads behind a service: those in the service's namespace whose labels contain its
 * selector (a ServiceEntry's workloadSelector selects in its own namespace only, as in Istio),
 * plus its inline endpoints; sorted by namespace, name, uid.
 */
export function endpointsOf(service: Service, workloads: readonly Workload[]): Workload[] {
  const selector = service.selector;
  const selected =
    selector === undefined
      ? []
      : workloads.filter((w) => w.namespace === service.namespace && selectorMatches(selector, w.labels));
  return [...selected, ...service.endpoints].sort(byWorkload);
}

/**
 * Workloads by namespace and by `label=value`, so the workloads a selector may match are found
 * without scanning every workload of the mesh for every service.
 */
export class WorkloadIndex {
  readonly #byNamespace = new Map<string, { all: Workload[]; byLabel: Map<string, Workload[]> }>();

  constructor(workloads: readonly Workload[]) {
    for (const workload of workloads) {
      let namespace = this.#byNamespace.get(workload.namespace);
      if (namespace === undefined) {
        namespace = { all: [], byLabel: new Map() };
        this.#byNamespace.set(workload.namespace, namespace);
      }
      namespace.all.push(workload);
      for (const [key, value] of Object.entries(workload.labels)) {
        const label = `${key}=${value}`;
        const list = namespace.byLabel.get(label);
        if (list === undefined) namespace.byLabel.set(label, [workload]);
        else list.push(workload);
      }
    }
  }

  /** A superset of the workloads `service` selects (in its namespace, with its selector's first label). */
  candidates(service: Service): readonly Workload[] {
    if (service.selector === undefined) return [];
    const namespace = this.#byNamespace.get(service.namespace);
    if (namespace === undefined) return [];
    const first = Object.entries(service.selector)[0];
    if (first === undefined) return namespace.all;
    return namespace.byLabel.get(`${first[0]}=${first[1]}`) ?? [];
  }
}
