// Mesh-wide defaults (Istio's), shared by config/ and the snapshot builder.
import type { MeshSettings } from './types.ts';

/** Istio's defaults: trust domain and DNS suffix `cluster.local`, root namespace `istio-system`, ALLOW_ANY, path normalisation BASE. */
export const DEFAULT_MESH: MeshSettings = Object.freeze({
  trustDomain: 'cluster.local',
  rootNamespace: 'istio-system',
  domainSuffix: 'cluster.local',
  outboundTrafficPolicy: 'ALLOW_ANY',
  pathNormalization: 'BASE',
});
