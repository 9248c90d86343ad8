// What `weft demo` runs: the Bookinfo units, the ingress gateway and the configuration applied at start.
import { fileURLToPath } from 'node:url';

/** One Bookinfo workload, run as a `weft run` unit (sidecar + app). */
export interface DemoUnit {
  service: string;
  version: string;
  /** The app's file in examples/bookinfo/. */
  file: string;
}

/** The sample's own folder (apps and scenario YAML). */
export const BOOKINFO_DIR = fileURLToPath(new URL('../../examples/bookinfo/', import.meta.url));

/** Where `weft` itself is, so children run the same code with the same Node.js. */
export const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

/** productpage calls details and reviews; reviews v2 and v3 call ratings (docs/demo.md). */
export const BOOKINFO_UNITS: readonly DemoUnit[] = [
  { service: 'details', version: 'v1', file: 'details.ts' },
  { service: 'ratings', version: 'v1', file: 'ratings.ts' },
  { service: 'reviews', version: 'v1', file: 'reviews.ts' },
  { service: 'reviews', version: 'v2', file: 'reviews.ts' },
  { service: 'reviews', version: 'v3', file: 'reviews.ts' },
  { service: 'productpage', version: 'v1', file: 'productpage.ts' },
];

/** The ingress gateway, named and labelled as Istio's (its Gateway selects `istio: ingressgateway`). */
export const INGRESS = {
  name: 'istio-ingressgateway',
  namespace: 'istio-system',
  labels: ['istio=ingressgateway'],
  /** The Gateway's server port (bookinfo-gateway.yaml), served on the demo's `--port`. */
  serverPort: 8080,
} as const;

/** The PeerAuthentication that makes mutual TLS mandatory between the Bookinfo workloads. */
export const STRICT_MTLS = 'istio/peer-authentication-strict.yaml';

/**
 * Applied before anything starts: the Gateway and the VirtualService that expose productpage,
 * and STRICT mutual TLS in the default namespace (sidecars and the gateway carry SPIFFE
 * certificates from the control plane's CA; plaintext to a sidecar's inbound port is refused).
 */
export const START_CONFIG = ['istio/bookinfo-gateway.yaml', STRICT_MTLS];
