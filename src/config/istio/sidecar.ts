// Istio Sidecar (networking.istio.io) → SidecarModel: which services a sidecar's outbound configuration holds (egress hosts).
import type { SidecarEgressHost, SidecarModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import { labels } from '../names.ts';
import type { Reader } from '../read.ts';
import { defined, list, object, readObject, stringWith } from '../read.ts';
import type { ResourceContext } from './common.ts';

/** Why `text` is not a `namespace/dnsName` egress host (Istio's form), or undefined. */
function egressHostError(text: string): string | undefined {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1 || text.indexOf('/', slash + 1) >= 0)
    return `"${text}" is not of the form namespace/dnsName (as in Istio: "./reviews.default.svc.cluster.local", "istio-system/*", "*/*.example.com")`;
  const host = text.slice(slash + 1);
  if (host !== '*' && host.slice(1).includes('*'))
    return `"${text}": a wildcard may only be the first label of the DNS name ("*.example.com") or the whole name ("*")`;
  if (host.startsWith('*') && host !== '*' && !host.startsWith('*.'))
    return `"${text}": a wildcard must be a whole label ("*.example.com")`;
  return undefined;
}

const egressHost: Reader<SidecarEgressHost> = (check, value, path) => {
  const text = stringWith(egressHostError)(check, value, path);
  if (text === undefined) return undefined;
  const slash = text.indexOf('/');
  return { namespace: text.slice(0, slash), host: text.slice(slash + 1).toLowerCase() };
};

/** One `egress` entry: weft reads its hosts; per-port egress listeners are not implemented. */
const egressListener: Reader<SidecarEgressHost[]> = object(
  (f) => f.required('hosts', list(egressHost, { nonEmpty: true })),
  {
    unsupported: {
      port: 'per-port egress listeners are not implemented: a Sidecar scopes every port alike',
      bind: 'the outbound listener address is a weft proxy flag',
      captureMode: 'capture is set with weft run --capture',
      defaultEndpoint: 'per-port egress listeners are not implemented',
    },
  },
);

/** Reads `spec` of a Sidecar named by `context`. */
export function readSidecar(check: Check, spec: unknown, context: ResourceContext): SidecarModel | undefined {
  return readObject(
    check,
    spec,
    ['spec'],
    (f) => {
      const selector = f.optional(
        'workloadSelector',
        object((w) => w.required('labels', labels)),
      );
      const egress = f.optional('egress', list(egressListener)) ?? [];
      if (egress.length > 1)
        check.error(
          f.at('egress'),
          'one egress entry at most: several need per-port egress listeners (port), which weft does not implement',
        );
      // No egress: every host of every namespace, as in Istio.
      const hosts = egress.length === 0 ? [{ namespace: '*', host: '*' }] : egress[0];
      return defined<SidecarModel>({
        name: context.name,
        namespace: context.namespace,
        selector: selector && Object.keys(selector).length > 0 ? selector : undefined,
        egressHosts: hosts,
      });
    },
    {
      unsupported: {
        ingress: 'inbound listeners follow the workload (weft proxy --app-port)',
        outboundTrafficPolicy: 'set it mesh-wide with MeshConfig outboundTrafficPolicy',
        inboundConnectionPool: 'inbound connection limits are not implemented',
      },
    },
  );
}
