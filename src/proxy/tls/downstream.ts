// TLS termination for one filter chain (Envoy's DownstreamTlsContext): handshake, client-certificate checks, then the chain's terminal filter.
//
// Usage (a listener whose chain has a `transport_socket`):
//
//   const tls = new DownstreamTls(config, secrets, tlsStats('listener', '0.0.0.0_15006'), where,
//     (secure) => hcm.handle(secure, firstBytes));
//   tls.accept(rawSocket, bytesAlreadyRead);     // bytesAlreadyRead: the ClientHello the inspector saw
//
// The handshake runs in a `tls.Server` that never listens: the listener hands it accepted sockets
// (`emit('connection')`, after putting back what the inspector read), so Node does everything it
// does for its own servers (timeouts, ALPN, client-certificate verification). The certificate and
// trust bundle come from the SecretStore; when a secret rotates, `setSecureContext` applies the
// new one to later handshakes only — open connections keep theirs (no connection is dropped).
// On success `onSecure` receives the TLSSocket with `tlsConnectionFacts` set (peer principal, SNI).
import type net from 'node:net';
import tls from 'node:tls';
import { spiffeIdOfCertificate, uriSans } from '../../identity/spiffe.ts';
import { logger } from '../../observe/log.ts';
import { alpnProtocols } from './alpn.ts';
import { clientCertFacts, setTlsConnectionFacts } from './connection-facts.ts';
import { certificateMatchesSans } from './san-match.ts';
import type { SecretStore } from './secrets.ts';
import type { DownstreamTlsConfig } from './tls-config.ts';
import { TlsContextSource } from './tls-context.ts';
import type { TlsStats } from './tls-stats.ts';

/** How long a client has to finish its handshake. */
const HANDSHAKE_TIMEOUT_MS = 15_000;

const log = logger({ component: 'proxy-tls' });

export class DownstreamTls {
  private readonly config: DownstreamTlsConfig;
  private readonly source: TlsContextSource;
  private readonly stats: TlsStats;
  private server: tls.Server | undefined;
  private readonly onSecure: (socket: tls.TLSSocket) => void;

  /**
   * `where` names the config in messages (e.g. `Listener inbound.filter_chains[0]`). The secrets
   * must be present (check `missingSecrets()` before accepting a config); otherwise every
   * connection is closed and the failure logged.
   */
  constructor(
    config: DownstreamTlsConfig,
    secrets: SecretStore,
    stats: TlsStats,
    where: string,
    onSecure: (socket: tls.TLSSocket) => void,
  ) {
    this.config = config;
    this.source = new TlsContextSource(config.common, secrets, where);
    this.stats = stats;
    this.onSecure = onSecure;
  }

  /** The (never listening) server doing the handshakes, created once the secrets are there. */
  private handshaker(): tls.Server | undefined {
    if (this.server) {
      if (this.source.stale) this.server.setSecureContext(this.source.options());
      return this.server;
    }
    if (this.source.missingSecrets().length > 0) return undefined;
    const config = this.config;
    const server = tls.createServer({
      ...this.source.options(),
      requestCert: config.common.validation !== undefined,
      // A required certificate is enforced by OpenSSL (the client gets a `certificate required`
      // alert); an optional one is verified below, when present.
      rejectUnauthorized: config.requireClientCertificate,
      ALPNProtocols: alpnProtocols(config.common.alpn),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      sessionTimeout: config.sessionTimeoutS,
    });
    server.on('secureConnection', this.onSecureConnection);
    server.on('tlsClientError', this.onClientError);
    this.server = server;
    return server;
  }

  /** SDS names the config needs that are not in the store. */
  missingSecrets(): string[] {
    return this.source.missingSecrets();
  }

  /** Starts the handshake on an accepted connection; `initial` holds bytes already read from it. */
  accept(socket: net.Socket, initial: Buffer): void {
    const server = this.handshaker();
    if (!server) {
      log.error({ missing: this.source.missingSecrets() }, 'TLS secrets missing; connection closed');
      socket.destroy();
      return;
    }
    // TLSSocket reads what is buffered on the socket first: the ClientHello goes back there.
    if (initial.length > 0) socket.unshift(initial);
    server.emit('connection', socket);
  }

  private readonly onSecureConnection = (socket: tls.TLSSocket): void => {
    socket.on('error', noop);
    const cert = this.config.common.validation ? socket.getPeerCertificate() : undefined;
    const hasCert = cert !== undefined && cert !== null && Object.keys(cert).length > 0;
    const stats = this.stats;
    if (hasCert && !socket.authorized) {
      stats.failVerifyError++;
      stats.connectionError++;
      socket.destroy();
      return;
    }
    const sans = this.config.common.validation?.sanMatchers ?? [];
    if (hasCert && !certificateMatchesSans(cert, sans)) {
      stats.failVerifySan++;
      stats.connectionError++;
      socket.destroy();
      return;
    }
    if (this.config.requireSni && !socket.servername) {
      stats.connectionError++;
      socket.destroy();
      return;
    }
    if (!hasCert) stats.noCertificate++;
    stats.handshake++;
    setTlsConnectionFacts(socket, {
      peerPrincipal: hasCert ? (spiffeIdOfCertificate(cert) ?? uriSans(cert)[0]) : undefined,
      sni: socket.servername || undefined,
      clientCert: hasCert ? clientCertFacts(socket) : undefined,
    });
    socket.removeListener('error', noop);
    this.onSecure(socket);
  };

  private readonly onClientError = (err: NodeJS.ErrnoException, socket: tls.TLSSocket): void => {
    const stats = this.stats;
    stats.connectionError++;
    if (socket.authorizationError) stats.failVerifyError++;
    else if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') stats.failVerifyNoCert++;
    socket.destroy();
  };
}

/**
 * Reads the first decrypted bytes of a TLS connection (for the HTTP codec's choice) and hands
 * them over: as Envoy's `codec_type: AUTO` does, weft chooses the codec by the HTTP/2 preface,
 * whatever ALPN was negotiated.
 */
export function readFirstBytes(socket: tls.TLSSocket, done: (first: Buffer) => void): void {
  const onData = (chunk: Buffer) => {
    cleanup();
    socket.pause();
    done(chunk);
  };
  const onEnd = () => {
    cleanup();
    socket.destroy();
  };
  const cleanup = () => {
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.resume();
}

function noop(): void {}
