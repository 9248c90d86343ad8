// TLS origination to one upstream host (Envoy's UpstreamTlsContext): certificate, trust, SNI, ALPN and SAN checks (Istio's secure naming).
//
// Usage: `const socket = upstreamTls.connect(host, port)`, then wait for `socketReadyEvent(socket)`
// ('secureConnect' for TLS: the handshake is done and the server verified) before counting the
// connection as established; bytes written earlier are buffered by Node. Every connect uses the
// SecureContext of the current secrets: after a rotation new connections present the new
// certificate, pooled ones keep the session they negotiated.
import net from 'node:net';
import tls from 'node:tls';
import { alpnProtocols } from './alpn.ts';
import { certificateMatchesSans, describeSanMatchers } from './san-match.ts';
import type { SecretStore } from './secrets.ts';
import type { UpstreamTlsConfig } from './tls-config.ts';
import { TlsContextSource } from './tls-context.ts';
import type { TlsStats } from './tls-stats.ts';

/** Code of the error a connection fails with when the server's certificate matches no allowed SAN. */
export const SAN_MISMATCH_CODE = 'ERR_WEFT_TLS_SAN_MISMATCH';

/** OpenSSL verification codes (chain not trusted, expired, ...): counted as ssl.fail_verify_error. */
/**
 * What a connection will carry: HTTP/1.1 or HTTP/2 requests (a pool's), opaque bytes (a tunnel),
 * or bytes this proxy did not look at (a captured connection forwarded as it is: the peer detects).
 */
export type UpstreamUse = 'http/1.1' | 'h2' | 'tcp' | 'unknown';

/**
 * Istio's `istio.alpn` override: a sidecar's HTTP connection to a mesh peer (a cluster whose ALPN
 * names `istio`) offers `istio-http/1.1` or `istio-h2` first, so the peer's inbound listener picks
 * its HTTP chain by ALPN; tunnels keep the cluster's list (`istio-peer-exchange`, `istio`: its
 * tcp_proxy chain); bytes not looked at offer none, so the peer detects them.
 */
const MESH_ALPN: Record<Exclude<UpstreamUse, 'tcp'>, string[]> = {
  'http/1.1': ['istio-http/1.1', 'istio', 'http/1.1'],
  h2: ['istio-h2', 'istio', 'h2'],
  unknown: [],
};

const VERIFY_CODES =
  /^(UNABLE_TO_|CERT_|SELF_SIGNED|DEPTH_ZERO|INVALID_CA|PATH_LENGTH|INVALID_PURPOSE|CERT_UNTRUSTED|CERT_REJECTED|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME)/;

export class UpstreamTls {
  private readonly config: UpstreamTlsConfig;
  private readonly source: TlsContextSource;
  private readonly stats: TlsStats;
  private readonly checkServerIdentity: (hostname: string, cert: tls.PeerCertificate) => Error | undefined;

  constructor(config: UpstreamTlsConfig, secrets: SecretStore, stats: TlsStats, where: string) {
    this.config = config;
    this.source = new TlsContextSource(config.common, secrets, where);
    this.stats = stats;
    const sans = config.common.validation?.sanMatchers ?? [];
    // Envoy checks SANs only when told to (no hostname check); Istio's secure naming lists the
    // SPIFFE IDs the service's workloads run as.
    this.checkServerIdentity = (_hostname, cert) => {
      if (certificateMatchesSans(cert, sans)) return undefined;
      const err: NodeJS.ErrnoException = new Error(
        `upstream certificate (${cert.subjectaltname || 'no subject alt names'}) matches none of ${describeSanMatchers(sans)}`,
      );
      err.code = SAN_MISMATCH_CODE;
      return err;
    };
  }

  /** SDS names the config needs that are not in the store. */
  missingSecrets(): string[] {
    return this.source.missingSecrets();
  }

  /**
   * Opens a TLS connection to `host:port` for `use` (throws TlsSecretMissingError when a secret
   * is absent).
   */
  connect(host: string, port: number, use: UpstreamUse = 'tcp'): tls.TLSSocket {
    const { config, stats } = this;
    const alpn = use !== 'tcp' && config.common.alpn.includes('istio') ? MESH_ALPN[use] : config.common.alpn;
    const socket = tls.connect({
      host,
      port,
      secureContext: this.source.context(),
      servername: config.sni !== undefined && net.isIP(config.sni) === 0 ? config.sni : undefined,
      ALPNProtocols: alpnProtocols(alpn),
      rejectUnauthorized: config.common.validation !== undefined,
      checkServerIdentity: this.checkServerIdentity,
    });
    socket.setNoDelay(true);
    const onError = (err: NodeJS.ErrnoException) => {
      stats.connectionError++;
      if (err.code === SAN_MISMATCH_CODE) stats.failVerifySan++;
      else if (VERIFY_CODES.test(err.code ?? '')) stats.failVerifyError++;
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.removeListener('error', onError);
      stats.handshake++;
    });
    return socket;
  }
}

/** The event that says a connection from `connectUpstream` may carry traffic. */
export function socketReadyEvent(socket: net.Socket): 'connect' | 'secureConnect' {
  return socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
}

/**
 * Connects to an upstream host with its transport socket: TLS when `transport` is set, else
 * plaintext TCP (no Nagle). Listen for `socketReadyEvent(socket)`.
 */
export function connectUpstream(
  transport: UpstreamTls | undefined,
  host: string,
  port: number,
  options: {
    /** What the connection carries (TLS: which ALPN a mesh peer is offered); default a tunnel's opaque bytes. */
    use?: UpstreamUse;
    allowHalfOpen?: boolean;
  } = {},
): net.Socket {
  if (transport) return transport.connect(host, port, options.use);
  return net.connect({
    host,
    port,
    noDelay: true,
    allowHalfOpen: options.allowHalfOpen === true,
  });
}
