// Linkerd MeshTLSAuthentication and NetworkAuthentication (policy.linkerd.io/v1alpha1), and the identity and network forms they share with ServerAuthorization.
import type {
  LinkerdIdentity,
  LinkerdNetwork,
  MeshTlsAuthenticationModel,
  NetworkAuthenticationModel,
} from '../../model/linkerd-authorization-types.ts';
import type { Check } from '../check.ts';
import { ipOrCidrError } from '../istio/authorization-policy.ts';
import type { ResourceContext } from '../istio/common.ts';
import { dnsLabel, dnsLabelError } from '../names.ts';
import { list, nonEmptyString, object, oneOf, type Reader, readObject, stringWith } from '../read.ts';

/** `<sa>.<ns>.serviceaccount.identity.<linkerd namespace>.<trust domain>`, `<sa>` possibly `*`. */
const SERVICE_ACCOUNT_IDENTITY =
  /^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.serviceaccount\.identity\./;

/** A Linkerd identity string: `*` (any authenticated client) or a ServiceAccount's identity name. */
export const identityName: Reader<LinkerdIdentity> = (check, value, path) => {
  const text = nonEmptyString(check, value, path);
  if (text === undefined) return undefined;
  if (text === '*') return { kind: 'any' };
  const found = SERVICE_ACCOUNT_IDENTITY.exec(text);
  if (found) return { kind: 'serviceAccount', serviceAccount: found[1], namespace: found[3] };
  check.error(
    path,
    `identity "${text}" is not supported by weft: weft identities are ServiceAccounts; write "*" or "<serviceaccount>.<namespace>.serviceaccount.identity.linkerd.cluster.local" (the trust domain is the mesh's)`,
    'unsupported',
  );
  return undefined;
};

/** A `{kind: ServiceAccount | Namespace, name, namespace?}` reference to the clients it names. */
function identityRef(namespace: string): Reader<LinkerdIdentity> {
  return object((r) => {
    r.optional('group', oneOf(['', 'core']));
    const kind = r.required('kind', oneOf(['ServiceAccount', 'Namespace']));
    const name = r.required(
      'name',
      stringWith((t) => (t === '*' ? undefined : dnsLabelError(t))),
    );
    const ns = kind === 'Namespace' ? undefined : r.optional('namespace', dnsLabel);
    if (kind === undefined || name === undefined) return undefined;
    if (kind === 'Namespace')
      return name === '*'
        ? { kind: 'any' }
        : { kind: 'serviceAccount', namespace: name, serviceAccount: '*' };
    return { kind: 'serviceAccount', namespace: ns ?? namespace, serviceAccount: name };
  });
}

const cidr = stringWith(ipOrCidrError);

/** One `networks[]` entry: `cidr` and the blocks `except` it. */
export const network: Reader<LinkerdNetwork> = object((n) => {
  const range = n.required('cidr', cidr);
  const except = n.optional('except', list(cidr)) ?? [];
  return range === undefined ? undefined : { cidr: range, except };
});

/** Reads `spec` of a MeshTLSAuthentication: exactly one of `identities` and `identityRefs`. */
export function readMeshTlsAuthentication(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): MeshTlsAuthenticationModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const names = f.optional('identities', list(identityName, { nonEmpty: true }));
    const refs = f.optional('identityRefs', list(identityRef(context.namespace), { nonEmpty: true }));
    if (f.has('identities') === f.has('identityRefs')) {
      check.error(f.at('identities'), 'set exactly one of identities and identityRefs', 'missing');
      return undefined;
    }
    const identities = names ?? refs;
    return identities && { name: context.name, namespace: context.namespace, identities };
  });
}

/** Reads `spec` of a NetworkAuthentication. */
export function readNetworkAuthentication(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): NetworkAuthenticationModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const networks = f.required('networks', list(network, { nonEmpty: true }));
    return networks && { name: context.name, namespace: context.namespace, networks };
  });
}
