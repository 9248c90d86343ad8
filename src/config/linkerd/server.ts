// Linkerd Server (policy.linkerd.io v1beta1-v1beta3): one port of the workloads a pod selector matches, denied unless authorized.
import type { LinkerdAccessPolicy, LinkerdServerModel } from '../../model/linkerd-authorization-types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { labels } from '../names.ts';
import { object, oneOf, port, type Reader, readObject } from '../read.ts';

const PROTOCOLS = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'] as const;

const ACCESS_POLICIES = [
  'deny',
  'all-unauthenticated',
  'all-authenticated',
  'cluster-unauthenticated',
  'cluster-authenticated',
  'audit',
] as const;

/** `podSelector`: `matchLabels` only. */
const podSelector = object((s) => s.optional('matchLabels', labels) ?? {}, {
  unsupported: { matchExpressions: 'select the workloads with matchLabels' },
});

/** A Kubernetes port name (IANA service name): up to 15 of a-z, 0-9 and single inner dashes, with a letter. */
const PORT_NAME = /^(?=.*[a-z])(?!-)(?!.*--)[a-z0-9-]{1,15}(?<!-)$/;

/** `port`: the app's port number, or its name (a sidecar's `--app-port-name`). */
const serverPort: Reader<number | string> = (check, value, path) => {
  if (typeof value === 'string' && !/^\d+$/.test(value)) {
    if (PORT_NAME.test(value)) return value;
    check.error(path, `"${value}" is not a port number or a port name (like http or grpc)`);
    return undefined;
  }
  return port(check, typeof value === 'string' ? Number(value) : value, path);
};

/** Reads `spec` of a Server. */
export function readServer(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): LinkerdServerModel | undefined {
  return readObject(
    check,
    spec,
    ['spec'],
    (f) => {
      const selector = f.required('podSelector', podSelector);
      const number = f.required('port', serverPort);
      const protocol = f.optional('proxyProtocol', oneOf(PROTOCOLS));
      if (protocol !== undefined && protocol !== 'unknown')
        check.warn(
          f.at('proxyProtocol'),
          `not applied: weft takes a port's protocol from its sidecar (--protocol, the port name, or detection), not from ${protocol} here`,
        );
      const access = f.optional('accessPolicy', oneOf(ACCESS_POLICIES)) ?? 'deny';
      if (access.startsWith('cluster-')) {
        check.error(
          f.at('accessPolicy'),
          `accessPolicy ${access} is not supported by weft: weft has no cluster networks; use deny, audit, all-authenticated or all-unauthenticated, or a NetworkAuthentication`,
          'unsupported',
        );
        return undefined;
      }
      if (selector === undefined || number === undefined) return undefined;
      return {
        name: context.name,
        namespace: context.namespace,
        labels: { ...(context.labels ?? {}) },
        selector,
        port: number,
        accessPolicy: access as LinkerdAccessPolicy,
      };
    },
    {
      unsupported: {
        externalWorkloadSelector: 'weft has no ExternalWorkloads; select workloads with podSelector',
      },
    },
  );
}
