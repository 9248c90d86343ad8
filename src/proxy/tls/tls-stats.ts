// TLS counters named after Envoy's `listener.<address>.ssl.*` and `cluster.<name>.ssl.*` statistics, process-wide.

export class TlsStats {
  /** `listener` (TLS terminated) or `cluster` (TLS originated). */
  readonly scope: 'listener' | 'cluster';
  /** The listener address (`0.0.0.0_15006`) or cluster name. */
  readonly name: string;
  /** ssl.handshake: handshakes completed. */
  handshake = 0;
  /** ssl.connection_error: handshakes that failed (protocol error, timeout, refused certificate). */
  connectionError = 0;
  /** ssl.fail_verify_no_cert: a required client certificate was not sent. */
  failVerifyNoCert = 0;
  /** ssl.fail_verify_error: the peer's chain did not verify against the trusted roots. */
  failVerifyError = 0;
  /** ssl.fail_verify_san: the peer's certificate matched no allowed subject alt name. */
  failVerifySan = 0;
  /** ssl.no_certificate: connections (handshake done) without a peer certificate. */
  noCertificate = 0;

  constructor(scope: 'listener' | 'cluster', name: string) {
    this.scope = scope;
    this.name = name;
  }
}

const byKey = new Map<string, TlsStats>();

/** The counters of a listener address or cluster name (kept across config updates). */
export function tlsStats(scope: 'listener' | 'cluster', name: string): TlsStats {
  const key = `${scope}\u0000${name}`;
  let stats = byKey.get(key);
  if (stats === undefined) {
    stats = new TlsStats(scope, name);
    byKey.set(key, stats);
  }
  return stats;
}

/** Every TLS counter set, for /stats/prometheus. */
export function allTlsStats(): TlsStats[] {
  return [...byKey.values()];
}
