// What a terminated TLS connection tells the HTTP filters: the verified peer identity and the SNI.
//
// The facts are stored on the TLSSocket under a symbol (not in a WeakMap) so that they can be read
// through node:http2's `session.socket`, which is a Proxy of the real socket.

const FACTS = Symbol('weft.tls.connection');

/** TLS facts of one downstream connection. */
export interface TlsConnectionFacts {
  /**
   * The verified client certificate's identity (its SPIFFE ID, else its first URI SAN), as
   * Envoy's `authenticated.principal_name` sees it; absent when the client sent no certificate.
   */
  readonly peerPrincipal?: string;
  /** The server name the client asked for (SNI), if any. */
  readonly sni?: string;
}

const NONE: TlsConnectionFacts = {};

/** Records the facts of a connection once its handshake has been checked. */
export function setTlsConnectionFacts(socket: object, facts: TlsConnectionFacts): void {
  (socket as Record<symbol, TlsConnectionFacts>)[FACTS] = facts;
}

/** The TLS facts of a downstream socket (the TLSSocket, or http2's proxy of it); empty for plaintext. */
export function tlsConnectionFacts(socket: object | undefined | null): TlsConnectionFacts {
  return (socket as Record<symbol, TlsConnectionFacts | undefined> | undefined)?.[FACTS] ?? NONE;
}
