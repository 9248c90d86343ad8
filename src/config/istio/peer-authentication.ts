// Istio PeerAuthentication (security.istio.io) → PeerAuthenticationModel: the mTLS mode of a scope, per port.
import type { MtlsMode, PeerAuthenticationModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { Reader } from '../read.ts';
import { defined, object, oneOf, readObject, record } from '../read.ts';
import type { ResourceContext } from './common.ts';
import { readSelector } from './workload-selector.ts';

const MODES: readonly MtlsMode[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

/** `{mode: STRICT}`; an absent mode is UNSET (inherit). */
const mutualTls: Reader<MtlsMode> = object((f) => f.optional('mode', oneOf(MODES)) ?? 'UNSET');

function portKeyError(key: string): string | undefined {
  const n = Number(key);
  return /^\d+$/.test(key) && n >= 1 && n <= 65535 ? undefined : `"${key}" is not a port number (1-65535)`;
}

/** Reads `spec` of a PeerAuthentication named by `context`. */
export function readPeerAuthentication(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): PeerAuthenticationModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const selector = readSelector(f);
    const mode = f.optional('mtls', mutualTls) ?? 'UNSET';
    const ports = f.optional('portLevelMtls', record(mutualTls, portKeyError)) ?? {};
    if (Object.keys(ports).length > 0 && selector === undefined)
      check.error(
        f.at('portLevelMtls'),
        'portLevelMtls needs a selector (as in Istio): port-level modes apply to selected workloads only',
      );
    const portLevelMtls = Object.entries(ports)
      .map(([port, portMode]) => ({ port: Number(port), mode: portMode }))
      .sort((a, b) => a.port - b.port);
    return defined<PeerAuthenticationModel>({
      name: context.name,
      namespace: context.namespace,
      selector,
      mode,
      portLevelMtls,
    });
  });
}
