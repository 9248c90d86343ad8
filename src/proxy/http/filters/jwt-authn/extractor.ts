// Where a JWT is found in a request: headers (with a value prefix), query parameters, cookies.

import type { RequestHead } from '../../request-head.ts';
import { parseQuery } from '../../router/matchers.ts';

/** One place a provider looks for its token. */
export type TokenLocation =
  | { kind: 'header'; name: string; prefix: string }
  | { kind: 'param'; name: string }
  | { kind: 'cookie'; name: string };

/** A token found in a request, and where. */
export interface FoundToken {
  token: string;
  location: TokenLocation;
}

/** Envoy's default when a provider names no location: `Authorization: Bearer <token>` and `?access_token=`. */
export const DEFAULT_LOCATIONS: readonly TokenLocation[] = [
  { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
  { kind: 'param', name: 'access_token' },
];

/** The characters of a JWS compact token; a value is cut at the first other character. */
const TOKEN = /^[A-Za-z0-9._~+/=-]+/;

function fromHeaderValue(value: string, prefix: string): string | undefined {
  let rest = value;
  if (prefix !== '') {
    // Envoy looks for the prefix anywhere in the value; the scheme word is matched case-insensitively.
    const at = value.toLowerCase().indexOf(prefix.toLowerCase());
    if (at < 0) return undefined;
    rest = value.slice(at + prefix.length);
  }
  const match = TOKEN.exec(rest.trim());
  return match?.[0];
}

function cookieValue(head: RequestHead, name: string): string | undefined {
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] !== 'cookie') continue;
    for (const part of h[i + 1].split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/** Every distinct token at `locations`, in location order. */
export function extractTokens(head: RequestHead, locations: readonly TokenLocation[]): FoundToken[] {
  const found: FoundToken[] = [];
  const seen = new Set<string>();
  const add = (token: string | undefined, location: TokenLocation) => {
    if (token === undefined || token === '' || seen.has(token)) return;
    seen.add(token);
    found.push({ token, location });
  };
  let query: Map<string, string> | undefined;
  for (const location of locations) {
    if (location.kind === 'header') {
      const h = head.headers;
      for (let i = 0; i < h.length; i += 2)
        if (h[i] === location.name) add(fromHeaderValue(h[i + 1], location.prefix), location);
    } else if (location.kind === 'param') {
      query ??= parseQuery(head.path);
      add(query.get(location.name), location);
    } else add(cookieValue(head, location.name), location);
  }
  return found;
}

/**
 * Takes a verified token out of the request (`forward: false`): Envoy removes header locations
 * only. True when the request changed.
 */
export function removeToken(head: RequestHead, location: TokenLocation): boolean {
  if (location.kind !== 'header') return false;
  head.remove(location.name);
  return true;
}
