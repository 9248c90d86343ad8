// Test fixture for weft analyze: the broken configuration and the sidecar workloads it is judged against.
import { fileURLToPath } from 'node:url';
import type { Workload } from '../../src/model/types.ts';

export const BROKEN = fileURLToPath(new URL('../fixtures/analyze/broken.yaml', import.meta.url));

/** A sidecar workload of `service` (as a proxy registers it). */
export function sidecar(service: string, version = 'v1'): Workload {
  return {
    uid: `proxy~${service}-${version}`,
    name: `${service}-${version}`,
    namespace: 'default',
    address: '127.0.0.1',
    labels: { app: service, version },
    serviceAccount: service,
    ports: {},
    weight: 1,
    sidecar: { inboundPort: 15006 },
    health: 'HEALTHY',
    source: 'proxy',
    service: { name: service, port: 9080, protocol: 'HTTP' },
  };
}

export const WORKLOADS = [
  sidecar('reviews', 'v1'),
  sidecar('reviews', 'v2'),
  sidecar('ratings'),
  sidecar('details'),
  sidecar('productpage'),
];
