// What each proxyless gRPC client accepts, told by the user agent its xDS node declares (docs/xds.md, "Proxyless gRPC shapes").
import type { ProxyNode } from '../node.ts';

/**
 * How route header matchers are written: `string_match` (Envoy's current field) or the
 * deprecated `exact_match` / `prefix_match` / `safe_regex_match` fields every gRPC release
 * accepts. gRPC added `string_match` with gRFC A63 (2023); a client that predates it NACKs the
 * whole RouteConfiguration ("Invalid route header matcher specified").
 */
export type HeaderMatchForm = 'string_match' | 'legacy';

/** A gRPC implementation: how its `user_agent_name` reads, and the first release that accepts `string_match`. */
interface GrpcImplementation {
  name: RegExp;
  /** Extracts the release (`1.51.1`) from `user_agent_version`. */
  release: (version: string) => string | undefined;
  /** First release known to accept `HeaderMatcher.string_match` (the one after the change landed). */
  stringMatchSince: readonly [number, number];
}

const IMPLEMENTATIONS: readonly GrpcImplementation[] = [
  // @grpc/grpc-js-xds: `gRPC Node Pure JS`, its own version (grpc-node#2462, June 2023).
  { name: /^gRPC Node Pure JS$/, release: (v) => v, stringMatchSince: [1, 9] },
  // grpc-java: `gRPC Java` (grpc-java#9845, January 2023).
  { name: /^gRPC Java$/, release: (v) => v, stringMatchSince: [1, 54] },
  // grpc-go: `gRPC Go` (grpc-go#6313, May 2023).
  { name: /^gRPC Go$/, release: (v) => v, stringMatchSince: [1, 57] },
  // C-core wrapped by a language (Python, Ruby, PHP...): `gRPC C-core linux Python`,
  // `C-core 29.0.0 Python 1.51.1` (grpc#32993, May 2023). C++ sends only the core version, whose
  // numbering is not the release's: it gets the legacy form.
  {
    name: /^gRPC C-core\b/,
    release: cCoreRelease,
    stringMatchSince: [1, 57],
  },
];

/** The gRPC release of a C-core client wrapped by a language: `C-core 29.0.0 Python 1.51.1` → `1.51.1`. */
function cCoreRelease(version: string): string | undefined {
  return /^C-core \S+ \S+ (\d+\.\d+\S*)$/.exec(version)?.[1];
}

function atLeast(release: string | undefined, since: readonly [number, number]): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(release ?? '');
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > since[0] || (major === since[0] && minor >= since[1]);
}

/**
 * The header matcher form a proxy accepts: weft sidecars and Envoy read `string_match`; a gRPC
 * client gets it from the release that accepts it on, and the legacy fields otherwise (older
 * releases and clients weft does not recognise: every release accepts those).
 */
export function headerMatchForm(proxy: Pick<ProxyNode, 'kind' | 'userAgent'>): HeaderMatchForm {
  if (proxy.kind === 'sidecar') return 'string_match';
  const { name, version } = proxy.userAgent;
  if (name === 'envoy') return 'string_match';
  const implementation = IMPLEMENTATIONS.find((i) => i.name.test(name));
  if (!implementation) return 'legacy';
  return atLeast(implementation.release(version), implementation.stringMatchSince)
    ? 'string_match'
    : 'legacy';
}

/**
 * Whether a client survives RING_HASH clusters. C-core before 1.52 (Debian 12's python3-grpcio
 * 1.51.1) dies with SIGSEGV on its first ring-hash pick that must connect a subchannel: the
 * picker's connection attempter casts its closure argument to the wrong type (grpc/grpc#31766,
 * fixed by grpc/grpc#32012). Other clients, and C-core whose release cannot be read, get it.
 */
export function ringHashWorks(proxy: Pick<ProxyNode, 'kind' | 'userAgent'>): boolean {
  if (proxy.kind === 'sidecar' || !/^gRPC C-core\b/.test(proxy.userAgent.name)) return true;
  const release = cCoreRelease(proxy.userAgent.version);
  return release === undefined || atLeast(release, [1, 52]);
}
