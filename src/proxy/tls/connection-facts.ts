// What a terminated TLS connection tells the HTTP filters: the verified peer identity and the SNI.
//
// The facts are stored on the TLSSocket under a symbol (no WeakMap lookup per request).

import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { parseSubjectAltNames } from '../../identity/spiffe.ts';

const FACTS = Symbol('weft.tls.connection');

/** The verified client certificate of an mTLS connection, as XFCC reports it. */
export interface ClientCertFacts {
  /** This proxy's own URI SAN (`By`). */
  localUri: string | undefined;
  /** SHA-256 of the client's leaf certificate (DER), lowercase hex (`Hash`). */
  hash: string;
  subject: string;
  /** URI SANs (`URI`); DNS SANs (`DNS`). */
  uris: readonly string[];
  dns: readonly string[];
  /**
   * The XFCC element last built from these facts and the HCM config it was built for: built once
   * per connection, not per request (src/proxy/http/xfcc.ts).
   */
  xfcc?: { readonly config: object; readonly element: string };
}

/** TLS facts of one downstream connection. */
export interface TlsConnectionFacts {
  /**
   * The verified client certificate's identity (its SPIFFE ID, else its first URI SAN), as
   * Envoy's `authenticated.principal_name` sees it; absent when the client sent no certificate.
   */
  readonly peerPrincipal?: string;
  /** The server name the client asked for (SNI), if any. */
  readonly sni?: string;
  /** The verified client certificate, for x-forwarded-client-cert; absent without one. */
  readonly clientCert?: ClientCertFacts;
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

/** The client certificate facts of a mutual-TLS socket (once per connection), or undefined without one. */
export function clientCertFacts(socket: TLSSocket): ClientCertFacts | undefined {
  const peer = socket.getPeerCertificate();
  if (!peer?.raw || !socket.authorized) return undefined;
  const sans = peer.subjectaltname ? parseSubjectAltNames(peer.subjectaltname) : [];
  const local = socket.getCertificate();
  const localSans =
    local && 'subjectaltname' in local && local.subjectaltname
      ? parseSubjectAltNames(local.subjectaltname)
      : [];
  const subject = peer.subject
    ? Object.entries(peer.subject)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
        .join(',')
    : '';
  return {
    localUri: localSans.find((s) => s.type === 'URI')?.value,
    hash: createHash('sha256').update(peer.raw).digest('hex'),
    subject,
    uris: sans.filter((s) => s.type === 'URI').map((s) => s.value),
    dns: sans.filter((s) => s.type === 'DNS').map((s) => s.value),
    xfcc: undefined,
  };
}
