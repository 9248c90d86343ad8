// Test helper: a real ProxyCore running the inbound listener the control plane generates for given policies.
import { parseResources } from '../../src/config/parse.ts';
import { snapshotFromResources } from '../../src/control/compiled-store.ts';
import { generateListeners } from '../../src/control/xds/generate/lds.ts';
import { proxyFromNode } from '../../src/control/xds/node.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { coreWith, staticCluster } from './fixtures.ts';

/**
 * The `cart` sidecar of namespace `shop` (service port 8000, app on `appPort`), its inbound
 * listener generated from `policies` (YAML) and bound to 127.0.0.1:0.
 */
export async function inboundCore(policies: string, appPort: number): Promise<ProxyCore> {
  const snapshot = snapshotFromResources({
    resources: parseResources(policies, 'policies.yaml').map((d) => d.resource),
    workloads: [],
    mesh: DEFAULT_MESH,
    version: 1,
  });
  const proxy = proxyFromNode({
    id: 'cart-1',
    cluster: 'cart',
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'shop',
      LABELS: { app: 'cart' },
      WEFT_SERVICE: 'cart',
      WEFT_SERVICE_PORT: '8000',
      WEFT_APP_PORT: String(appPort),
    }),
  });
  const [inbound] = generateListeners({ snapshot, proxy, warn: () => {} }, ['inbound']);
  const listener = camelize(
    decodeResource(TYPE_URL.listener, encodeResource(TYPE_URL.listener, inbound.resource)),
  ) as Record<string, unknown>;
  listener.address = { socketAddress: { address: '127.0.0.1', portValue: 0 } };
  return coreWith({
    listeners: [listener],
    clusters: [staticCluster('inbound|8000||', [{ port: appPort }])],
  });
}
