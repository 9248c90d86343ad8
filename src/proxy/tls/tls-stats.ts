// TLS counters named after Envoy's `listener.<address>.ssl.*` and `cluster.<name>.ssl.*` statistics, process-wide.
import { compileScope, ScopedStats } from '../common/compile-scope.ts';

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

const byKey = new ScopedStats<TlsStats>((key) => {
  const [scope, name] = key.split('\u0000');
  return new TlsStats(scope as 'listener' | 'cluster', name);
});

/**
 * The counters of a listener address or cluster name (kept across config updates) in a proxy
 * core (`owner`: its compile scope; default the compilation in progress).
 */
export function tlsStats(
  scope: 'listener' | 'cluster',
  name: string,
  owner: object = compileScope(),
): TlsStats {
  return byKey.get(`${scope}\u0000${name}`, owner);
}

/** Every TLS counter set of a proxy core, for /stats/prometheus. */
export function allTlsStats(owner: object): TlsStats[] {
  return [...byKey.entries(owner).values()];
}
