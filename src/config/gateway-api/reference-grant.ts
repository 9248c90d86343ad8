// Gateway API ReferenceGrant → ReferenceGrantModel: which routes of other namespaces may use this namespace's Services.
import type { ReferenceGrantModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { dnsLabel, dnsSubdomain } from '../names.ts';
import { defined, list, nonEmptyString, object, readObject, string } from '../read.ts';

const from = object((f) => {
  const group = f.required('group', string);
  const kind = f.required('kind', nonEmptyString);
  const namespace = f.required('namespace', dnsLabel);
  return group === undefined || kind === undefined || namespace === undefined
    ? undefined
    : { group, kind, namespace };
});

const to = object((f) => {
  const group = f.required('group', string);
  const kind = f.required('kind', nonEmptyString);
  const name = f.optional('name', dnsSubdomain);
  if (group === undefined || kind === undefined) return undefined;
  return defined<ReferenceGrantModel['to'][number]>({ group: group === 'core' ? '' : group, kind, name });
});

/** Reads `spec` of a ReferenceGrant (`from` and `to`, both required and non-empty, as the spec says). */
export function readReferenceGrant(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): ReferenceGrantModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const grantFrom = f.required('from', list(from, { nonEmpty: true }));
    const grantTo = f.required('to', list(to, { nonEmpty: true }));
    if (grantFrom === undefined || grantTo === undefined) return undefined;
    return { name: context.name, namespace: context.namespace, from: grantFrom, to: grantTo };
  });
}
