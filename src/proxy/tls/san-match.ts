// Envoy's subject-alt-name matching of a peer certificate (match_typed_subject_alt_names), as Node reports SANs.
import type { PeerCertificate } from 'node:tls';
import { parseSubjectAltNames } from '../../identity/spiffe.ts';
import { matchString } from '../http/router/matchers.ts';
import type { SanMatcherConfig } from './tls-config.ts';

/** Node's spelling of each SAN type in `subjectaltname`. */
const NODE_SAN_TYPE: Record<string, SanMatcherConfig['sanType']> = {
  URI: 'URI',
  DNS: 'DNS',
  email: 'EMAIL',
  'IP Address': 'IP_ADDRESS',
};

/** A DNS SAN from the certificate may be a wildcard (`*.example.com`) covering one label. */
function dnsSanMatches(matcher: SanMatcherConfig['matcher'], san: string): boolean {
  if (matchString(matcher, san)) return true;
  if (matcher.kind !== 'exact' || !san.startsWith('*.')) return false;
  const dot = matcher.value.indexOf('.');
  return dot > 0 && matcher.value.slice(dot).toLowerCase() === san.slice(1).toLowerCase();
}

/** True when one of the certificate's SANs matches one of `matchers` (Envoy: any matcher, any SAN). */
export function certificateMatchesSans(
  cert: Pick<PeerCertificate, 'subjectaltname'> | undefined,
  matchers: readonly SanMatcherConfig[],
): boolean {
  if (matchers.length === 0) return true;
  const text = cert?.subjectaltname;
  if (!text) return false;
  const sans = parseSubjectAltNames(text);
  for (const m of matchers)
    for (const san of sans) {
      const type = NODE_SAN_TYPE[san.type];
      if (m.sanType !== 'ANY' && type !== m.sanType) continue;
      if (type === 'DNS' ? dnsSanMatches(m.matcher, san.value) : matchString(m.matcher, san.value))
        return true;
    }
  return false;
}

/** What a SAN list allowed, for error messages. */
export function describeSanMatchers(matchers: readonly SanMatcherConfig[]): string {
  return matchers
    .map((m) => `${m.sanType}:${m.matcher.kind === 'exact' ? '' : `${m.matcher.kind} `}${m.matcher.value}`)
    .join(', ');
}
