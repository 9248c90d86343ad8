// Linkerd AuthorizationPolicy (policy.linkerd.io/v1alpha1): which clients a Server (or every Server of a namespace) admits.
import type {
  LinkerdAuthorizationPolicyModel,
  LinkerdIdentity,
} from '../../model/linkerd-authorization-types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { dnsLabel } from '../names.ts';
import { list, nonEmptyString, object, type Reader, readObject } from '../read.ts';

type Target = LinkerdAuthorizationPolicyModel['target'];
type Authentication = LinkerdAuthorizationPolicyModel['authentications'][number];
type Ref = { authentication: Authentication } | { serviceAccount: LinkerdIdentity };

const LINKERD_GROUP = 'policy.linkerd.io';
const CORE_GROUPS = ['', 'core'];

/** `targetRef`: a Server of the namespace (group policy.linkerd.io, or left out), or the namespace itself. */
function targetRef(context: ResourceContext): Reader<Target> {
  return object((t) => {
    const group = t.optional('group', (_c, v) => (typeof v === 'string' ? v : undefined)) ?? '';
    const kind = t.required('kind', nonEmptyString);
    const name = t.required('name', dnsLabel);
    if (kind === undefined || name === undefined) return undefined;
    if (kind === 'Server' && [LINKERD_GROUP, ''].includes(group)) return { kind: 'Server', name };
    if (kind === 'Namespace' && CORE_GROUPS.includes(group)) {
      if (name === context.namespace) return { kind: 'Namespace' };
      t.check.error(
        t.at('name'),
        `a Namespace target must be the policy's own namespace (${context.namespace})`,
      );
      return undefined;
    }
    const route = kind === 'HTTPRoute' || kind === 'GRPCRoute';
    t.check.error(
      t.at('kind'),
      route
        ? `targetRef kind ${kind} is not supported by weft: authorize the route's Server (every route of it) instead`
        : `targetRef ${group === '' ? '' : `${group}/`}${kind} is not supported by weft: target a Server (${LINKERD_GROUP}) or a Namespace`,
      'unsupported',
    );
    return undefined;
  });
}

/** One `requiredAuthenticationRefs[]` entry. */
function authenticationRef(namespace: string): Reader<Ref> {
  return object((r) => {
    const group = r.optional('group', (_c, v) => (typeof v === 'string' ? v : undefined)) ?? '';
    const kind = r.required('kind', nonEmptyString);
    const name = r.required('name', dnsLabel);
    const ns = r.optional('namespace', dnsLabel) ?? namespace;
    if (kind === undefined || name === undefined) return undefined;
    if (
      (kind === 'MeshTLSAuthentication' || kind === 'NetworkAuthentication') &&
      [LINKERD_GROUP, ''].includes(group)
    )
      return { authentication: { kind, namespace: ns, name, at: Number(r.path.at(-1)) } };
    if (kind === 'ServiceAccount' && CORE_GROUPS.includes(group))
      return { serviceAccount: { kind: 'serviceAccount', namespace: ns, serviceAccount: name } };
    r.check.error(
      r.at('kind'),
      `authentication ${group === '' ? '' : `${group}/`}${kind} is not supported by weft: name a MeshTLSAuthentication, NetworkAuthentication (${LINKERD_GROUP}) or ServiceAccount`,
      'unsupported',
    );
    return undefined;
  });
}

/** Reads `spec` of a Linkerd AuthorizationPolicy; every required authentication must hold. */
export function readLinkerdAuthorizationPolicy(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): LinkerdAuthorizationPolicyModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const target = f.required('targetRef', targetRef(context));
    const refs = f.required('requiredAuthenticationRefs', list(authenticationRef(context.namespace)));
    if (target === undefined || refs === undefined) return undefined;
    const serviceAccounts = refs.flatMap((r) => ('serviceAccount' in r ? [r.serviceAccount] : []));
    if (serviceAccounts.length > 1)
      // Linkerd requires them all; one client has one identity, so several names admit no one.
      check.warn(
        f.at('requiredAuthenticationRefs'),
        'several ServiceAccounts are all required: no client is all of them',
      );
    return {
      name: context.name,
      namespace: context.namespace,
      target,
      authentications: refs.flatMap((r) => ('authentication' in r ? [r.authentication] : [])),
      serviceAccounts,
    };
  });
}
