// Peer metadata exchange: each sidecar tells the other its workload labels in a header, trusted only when mTLS proves who sent it.
import { UNKNOWN, type WorkloadLabels } from './istio-metrics.ts';

/**
 * The header both sidecars use: the client sidecar adds it to requests it sends over mTLS, the
 * server sidecar to its responses. Each side removes it before the app sees it, and removes
 * an app's own copy, so an app can never claim to be another workload.
 */
export const PEER_METADATA_HEADER = 'x-weft-peer-metadata';

const VERSION = 'v1';
/** Distinct header values remembered (one per peer workload). */
const MAX_CACHED = 10_000;

/** `v1;workload;namespace;app;version;cluster;principal`, each part percent-encoded. */
export function encodePeerMetadata(w: WorkloadLabels): string {
  return [VERSION, w.workload, w.namespace, w.app, w.version, w.cluster, w.principal]
    .map((p) => encodeURIComponent(p))
    .join(';');
}

/** Decodes header values into frozen labels, once per distinct value (series caches key on the object). */
export class PeerMetadataDecoder {
  private readonly byValue = new Map<string, WorkloadLabels | null>();

  /**
   * The peer's labels when `value` is well formed and its principal is `verifiedPrincipal`, the
   * identity the mTLS handshake proved; undefined otherwise (no mTLS, or a claim that does not
   * match the certificate).
   */
  trusted(value: string | undefined, verifiedPrincipal: string | undefined): WorkloadLabels | undefined {
    if (value === undefined || !verifiedPrincipal) return undefined;
    const peer = this.claimed(value);
    return peer !== undefined && peer.principal === verifiedPrincipal ? peer : undefined;
  }

  /**
   * The labels a header claims, when well formed. Only for a header that came over a connection
   * whose peer the handshake already checked (a server certificate matched against the cluster's SANs).
   */
  claimed(value: string): WorkloadLabels | undefined {
    let peer = this.byValue.get(value);
    if (peer === undefined) {
      peer = decode(value);
      if (this.byValue.size >= MAX_CACHED) this.byValue.clear();
      this.byValue.set(value, peer);
    }
    return peer ?? undefined;
  }
}

function decode(value: string): WorkloadLabels | null {
  const parts = value.split(';');
  if (parts.length !== 7 || parts[0] !== VERSION) return null;
  try {
    const [, workload, namespace, app, version, cluster, principal] = parts.map((p) => decodeURIComponent(p));
    return Object.freeze({
      workload: workload || UNKNOWN,
      namespace: namespace || UNKNOWN,
      app: app || UNKNOWN,
      version: version || UNKNOWN,
      cluster: cluster || UNKNOWN,
      principal,
    });
  } catch {
    return null;
  }
}
