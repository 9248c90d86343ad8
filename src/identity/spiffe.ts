// SPIFFE workload identities: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
//
// Parsing, formatting and validation, plus reading the identity out of a peer's certificate
// (its single URI SAN, as the X509-SVID spec requires) for policy, telemetry and secure naming.
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { BadRequestError } from '../errors.ts';

/** The trust domain weft uses when none is configured (Istio's default). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/** A workload identity, Istio-shaped: namespace plus service account within a trust domain. */
export interface SpiffeId {
  /** e.g. `cluster.local`. */
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

/** The part of an identity a bootstrap token grants; the trust domain is the CA's own. */
export interface WorkloadIdentityClaim {
  namespace: string;
  serviceAccount: string;
}

/**
 * The control plane's own identity: its xDS server presents a certificate for it and proxies
 * accept no other (Istio pins istiod's the same way). No bootstrap token is minted for it.
 */
export const CONTROL_PLANE_IDENTITY: WorkloadIdentityClaim = {
  namespace: 'weft-system',
  serviceAccount: 'weft-control-plane',
};

/** True when `claim` is the control plane's reserved identity. */
export function isControlPlaneIdentity(claim: WorkloadIdentityClaim): boolean {
  return (
    claim.namespace === CONTROL_PLANE_IDENTITY.namespace &&
    claim.serviceAccount === CONTROL_PLANE_IDENTITY.serviceAccount
  );
}

// SPIFFE ID spec: trust domain is lowercase letters, digits, '.', '-', '_'.
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
// SPIFFE path segments: letters, digits, '.', '-', '_', and not '.' or '..'.
const SEGMENT = /^[A-Za-z0-9._-]+$/;
/** Longest namespace or service-account name accepted (a Kubernetes DNS subdomain). */
const MAX_SEGMENT = 253;
/** The SPIFFE spec caps the whole URI at 2048 bytes. */
const MAX_URI = 2048;

/** Why a string is not a valid part of an identity, or undefined when it is. */
export function segmentProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_SEGMENT) return `must be at most ${MAX_SEGMENT} characters`;
  if (value === '.' || value === '..') return 'must not be "." or ".."';
  if (!SEGMENT.test(value)) return 'may contain only letters, digits, ".", "-" and "_"';
  return undefined;
}

/** Why a string is not a valid trust domain, or undefined when it is. */
export function trustDomainProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 255) return 'must be at most 255 characters';
  if (!TRUST_DOMAIN.test(value)) return 'may contain only lowercase letters, digits, ".", "-" and "_"';
  return undefined;
}

/** Throws BadRequestError unless every part of the identity is valid. */
export function validateSpiffeId(id: SpiffeId): void {
  const problems: string[] = [];
  const td = trustDomainProblem(id.trustDomain);
  if (td) problems.push(`trust domain ${JSON.stringify(id.trustDomain)} ${td}`);
  const ns = segmentProblem(id.namespace);
  if (ns) problems.push(`namespace ${JSON.stringify(id.namespace)} ${ns}`);
  const sa = segmentProblem(id.serviceAccount);
  if (sa) problems.push(`service account ${JSON.stringify(id.serviceAccount)} ${sa}`);
  if (problems.length > 0) throw new BadRequestError(`invalid workload identity: ${problems.join('; ')}`);
}

/** `spiffe://td/ns/NS/sa/SA`; throws BadRequestError if a part is invalid. */
export function formatSpiffeId(id: SpiffeId): string {
  validateSpiffeId(id);
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** Parses an Istio-shaped SPIFFE ID; undefined for anything else (other paths, bad characters). */
export function tryParseSpiffeId(uri: string): SpiffeId | undefined {
  if (uri.length > MAX_URI || !uri.startsWith('spiffe://')) return undefined;
  const rest = uri.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const trustDomain = rest.slice(0, slash);
  const parts = rest.slice(slash + 1).split('/');
  if (parts.length !== 4 || parts[0] !== 'ns' || parts[2] !== 'sa') return undefined;
  const id = { trustDomain, namespace: parts[1], serviceAccount: parts[3] };
  if (trustDomainProblem(id.trustDomain) || segmentProblem(id.namespace) || segmentProblem(id.serviceAccount))
    return undefined;
  return id;
}

/** Parses an Istio-shaped SPIFFE ID; throws BadRequestError when it is not one. */
export function parseSpiffeId(uri: string): SpiffeId {
  const id = tryParseSpiffeId(uri);
  if (!id)
    throw new BadRequestError(
      `${JSON.stringify(uri.slice(0, 200))} is not a SPIFFE ID of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
    );
  return id;
}

/**
 * Splits Node's `subjectaltname` string (`DNS:a, URI:spiffe://..., IP Address:1.2.3.4`) into
 * entries. Node quotes a value that contains a comma or other special characters as a JSON
 * string (`URI:"spiffe://a,b"`), so the split honours quotes.
 */
export function parseSubjectAltNames(text: string): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === ' ' || text[i] === ',') i++;
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    i = colon + 1;
    let value: string;
    if (text[i] === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(i, end + 1)) as string;
      } catch {
        value = text.slice(i + 1, end);
      }
      i = end + 1;
    } else {
      const comma = text.indexOf(', ', i);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(i, end);
      i = end;
    }
    out.push({ type, value });
  }
  return out;
}

/** Something that carries a SAN string: `tls.PeerCertificate` or `crypto.X509Certificate`. */
export type CertificateWithSans = Pick<PeerCertificate, 'subjectaltname'> | { subjectAltName?: string };

/** The URI SANs of a certificate as Node reports them. */
export function uriSans(cert: CertificateWithSans): string[] {
  const text =
    'subjectaltname' in cert
      ? cert.subjectaltname
      : 'subjectAltName' in cert
        ? cert.subjectAltName
        : undefined;
  if (!text) return [];
  return parseSubjectAltNames(text)
    .filter((san) => san.type === 'URI')
    .map((san) => san.value);
}

/**
 * The SPIFFE ID a certificate asserts, as a string, or undefined when it has none or is ambiguous.
 * An X509-SVID carries exactly one URI SAN; a certificate with several is not an SVID.
 * Pass `socket.getPeerCertificate()` or `socket.getPeerX509Certificate()`.
 */
export function spiffeIdOfCertificate(cert: CertificateWithSans | undefined | null): string | undefined {
  if (!cert) return undefined;
  const uris = uriSans(cert);
  if (uris.length !== 1) return undefined;
  return tryParseSpiffeId(uris[0]) ? uris[0] : undefined;
}

/**
 * The SPIFFE ID of the peer of an established TLS socket, or undefined.
 *
 * Reads `getPeerCertificate()`, which can be called any number of times. Beware: in Node 24, on
 * a client socket, `getPeerX509Certificate()` answers only once; after that both it and
 * `getPeerCertificate()` return nothing. Use this helper, or call getPeerX509Certificate once and keep it.
 */
export function peerSpiffeId(socket: TLSSocket): string | undefined {
  const cert = socket.getPeerCertificate();
  return cert && Object.keys(cert).length > 0 ? spiffeIdOfCertificate(cert) : undefined;
}

/**
 * A `checkServerIdentity` for `tls.connect` implementing Istio's secure naming: the server must
 * present one of the SPIFFE IDs the registry expects for the service it was dialled for. The
 * hostname is ignored (mesh certificates carry no DNS names). Chain verification against the
 * trust bundle still happens first (`rejectUnauthorized: true`).
 */
export function checkServerSpiffeId(
  expected: readonly string[],
): (hostname: string, cert: PeerCertificate) => Error | undefined {
  const allowed = new Set(expected);
  return (_hostname, cert) => {
    const id = spiffeIdOfCertificate(cert);
    if (id === undefined) return new Error('peer certificate carries no SPIFFE ID');
    if (!allowed.has(id))
      return new Error(
        `peer identity ${id} is not one expected for this service (${[...allowed].join(', ')})`,
      );
    return undefined;
  };
}
