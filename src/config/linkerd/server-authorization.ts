// Linkerd ServerAuthorization (policy.linkerd.io/v1beta1, deprecated): clients of Servers, read onto the same model as AuthorizationPolicy.
import type { LinkerdIdentity, ServerAuthorizationModel } from '../../model/linkerd-authorization-types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { dnsLabel, labels } from '../names.ts';
import { boolean, list, object, type Reader, readObject } from '../read.ts';
import { identityName, network } from './authentication.ts';

type Server = ServerAuthorizationModel['server'];

/** `server`: a Server by name, or Servers by their labels. */
const server: Reader<Server> = object((s) => {
  const name = s.optional('name', dnsLabel);
  const selector = s.optional(
    'selector',
    object((m) => m.optional('matchLabels', labels) ?? {}, {
      unsupported: { matchExpressions: 'select the Servers with matchLabels' },
    }),
  );
  if (s.has('name') === s.has('selector')) {
    s.check.error(s.at('name'), 'set exactly one of name and selector', 'missing');
    return undefined;
  }
  if (name !== undefined) return { name };
  return selector === undefined ? undefined : { selector };
});

/** `client.meshTLS`: identities and ServiceAccounts (any one admits). */
function meshTls(namespace: string): Reader<LinkerdIdentity[]> {
  return object(
    (m) => {
      const names = m.optional('identities', list(identityName)) ?? [];
      const accounts =
        m.optional(
          'serviceAccounts',
          list(
            object<LinkerdIdentity>((a) => {
              const name = a.required('name', dnsLabel);
              const ns = a.optional('namespace', dnsLabel) ?? namespace;
              return name === undefined
                ? undefined
                : { kind: 'serviceAccount', namespace: ns, serviceAccount: name };
            }),
          ),
        ) ?? [];
      if (!m.has('identities') && !m.has('serviceAccounts')) {
        m.check.error(m.at('identities'), 'set identities or serviceAccounts', 'missing');
        return undefined;
      }
      return [...names, ...accounts];
    },
    {
      unsupported: {
        unauthenticatedTLS: 'every TLS client of the mesh is authenticated; use identities ["*"]',
      },
    },
  );
}

/** Reads `spec` of a ServerAuthorization, warning that AuthorizationPolicy replaces it. */
export function readServerAuthorization(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): ServerAuthorizationModel | undefined {
  check.warn(
    ['kind'],
    'ServerAuthorization is deprecated: write an AuthorizationPolicy (policy.linkerd.io/v1alpha1) with a MeshTLSAuthentication or NetworkAuthentication',
  );
  return readObject(check, spec, ['spec'], (f) => {
    const target = f.required('server', server);
    const client = f.required(
      'client',
      object((c) => {
        const identities = c.optional('meshTLS', meshTls(context.namespace));
        const unauthenticated = c.optional('unauthenticated', boolean) ?? false;
        const networks = c.optional('networks', list(network, { nonEmpty: true }));
        if (c.has('meshTLS') === unauthenticated) {
          c.check.error(c.at('meshTLS'), 'set exactly one of meshTLS and unauthenticated: true', 'missing');
          return undefined;
        }
        return { identities, networks };
      }),
    );
    if (target === undefined || client === undefined) return undefined;
    return {
      name: context.name,
      namespace: context.namespace,
      server: target,
      ...(client.identities === undefined ? {} : { identities: client.identities }),
      ...(client.networks === undefined ? {} : { networks: client.networks }),
    };
  });
}
