// Request and response bodies of the CA's HTTP API (docs/security.md), shared by the control plane, proxies and the CLI.

/** Paths of the CA endpoints on the control-plane API. */
export const CA_API_PATHS = {
  /** POST, `Authorization: Bearer <bootstrap token>`: sign a CSR. */
  certificates: '/api/v1/certificates',
  /** GET, public: the trust bundle as PEM. */
  trustBundle: '/api/v1/trust-bundle',
  /** POST, operator only: mint a bootstrap token. */
  tokens: '/api/v1/tokens',
} as const;

/** Body of `POST /api/v1/certificates`. */
export interface CertificateRequest {
  /** PEM PKCS#10 request; its subject and SANs are ignored (the identity comes from the token). */
  csr: string;
  /** Requested lifetime (`24h`, `30s`); default the control plane's `--cert-ttl`. */
  ttl?: string;
}

/** Body of a successful `POST /api/v1/certificates`. */
export interface CertificateResponse {
  /** PEM: the leaf first, then CA certificates up to (not including) the root. */
  certificateChain: string;
  /** PEM of the root certificates to trust. */
  trustBundle: string;
  /** The SPIFFE ID in the leaf. */
  spiffeId: string;
  /** ISO-8601 notAfter of the leaf. */
  expiresAt: string;
}

/** Body of `POST /api/v1/tokens`. */
export interface TokenRequest {
  namespace: string;
  serviceAccount: string;
  /** Token lifetime (`8760h` by default). */
  ttl?: string;
}

/** Body of a successful `POST /api/v1/tokens`. */
export interface TokenResponse {
  /** The bootstrap token; a secret: store it as a file readable by the workload only. */
  token: string;
  /** The identity it grants. */
  spiffeId: string;
  /** ISO-8601 expiry of the token. */
  expiresAt: string;
}
