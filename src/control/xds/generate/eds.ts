// EDS generator: a ClusterLoadAssignment per outbound cluster, endpoints filtered by subset labels.
import type { Workload } from '../../../model/types.ts';
import type { ClusterLoadAssignment, Locality } from '../../../xds/messages/index.ts';
import {
  compareStrings,
  endpointPort,
  type GenerateContext,
  type GeneratedResource,
  labelsMatch,
  parseClusterName,
} from './common.ts';
import { endpointTlsMetadata } from './tls.ts';

/** `region/zone/subzone` → an Envoy Locality (empty parts left out). */
function locality(text: string | undefined): Locality {
  if (!text) return {};
  const [region, zone, subZone] = text.split('/');
  const out: Locality = {};
  if (region) out.region = region;
  if (zone) out.zone = zone;
  if (subZone) out.sub_zone = subZone;
  return out;
}

/** Envoy requires endpoint weights ≥ 1. */
function weightOf(workload: Workload): number {
  return Math.max(1, Math.round(workload.weight));
}

/**
 * The assignment for one cluster name; undefined when the name is not an EDS cluster weft
 * generates (unknown host, port or subset). Pure in the snapshot: the proxy does not matter.
 */
export function loadAssignment(
  ctx: GenerateContext,
  name: string,
): GeneratedResource<ClusterLoadAssignment> | undefined {
  const parsed = parseClusterName(name);
  if (parsed?.direction !== 'outbound') return undefined;
  const { snapshot } = ctx;
  const service = snapshot.services.get(parsed.host);
  const port = service?.ports.find((p) => p.number === parsed.port);
  if (!service || !port) return undefined;
  let selector: Readonly<Record<string, string>> = {};
  if (parsed.subset) {
    const subset = snapshot.destinationRules
      .get(service.hostname)
      ?.subsets.find((s) => s.name === parsed.subset);
    if (!subset) return undefined;
    selector = subset.labels;
  }
  const groups = new Map<string, Workload[]>();
  const seen = new Set<string>();
  for (const workload of snapshot.endpointsByHost.get(service.hostname) ?? []) {
    if (!labelsMatch(selector, workload.labels)) continue;
    const key = `${workload.address}:${endpointPort(workload, port)}`;
    if (seen.has(key)) {
      ctx.warn(
        `endpoint/${service.hostname}/${key}`,
        `${service.hostname}: two workloads share the endpoint ${key}; ${workload.uid} is left out`,
      );
      continue;
    }
    seen.add(key);
    const group = groups.get(workload.locality ?? '') ?? [];
    group.push(workload);
    groups.set(workload.locality ?? '', group);
  }
  const endpoints = [...groups.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([where, workloads]) => ({
      locality: locality(where),
      load_balancing_weight: { value: workloads.reduce((sum, w) => sum + weightOf(w), 0) },
      lb_endpoints: workloads.map((w) => {
        const metadata = endpointTlsMetadata(ctx, w);
        return {
          endpoint: {
            address: { socket_address: { address: w.address, port_value: endpointPort(w, port) } },
          },
          health_status: w.health,
          load_balancing_weight: { value: weightOf(w) },
          // Weft sidecars accept mTLS: clients' transport_socket_matches pick it by this label.
          ...(metadata ? { metadata } : {}),
        };
      }),
    }));
  const resource: ClusterLoadAssignment = { cluster_name: name };
  if (endpoints.length > 0) resource.endpoints = endpoints;
  return { name, resource };
}

/** EDS: the assignments of the requested clusters (EDS is never wildcard). */
export function generateEndpoints(
  ctx: GenerateContext,
  names: readonly string[] | undefined,
): GeneratedResource<ClusterLoadAssignment>[] {
  return (names ?? []).map((n) => loadAssignment(ctx, n)).filter((a) => a !== undefined);
}
