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

/** Applied before anything starts: the Gateway and the VirtualService that exposes productpage. */
export const START_CONFIG = ['istio/bookinfo-gateway.yaml'];

/**
 * Whether sidecars talk mutual TLS to each other. Not yet: the proxy has no TLS transport
 * sockets in its listeners and clusters (docs/security.md, "Not implemented yet"), so the
 * demo applies no STRICT PeerAuthentication and says so instead of pretending.
 */
export const MUTUAL_TLS: { outcome: 'applied' } | { outcome: 'not-yet'; why: string } = {
  outcome: 'not-yet',
  why: 'sidecars do not use mutual TLS with each other yet (it lands with the security work; docs/security.md)',
};
