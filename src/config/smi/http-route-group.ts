// SMI HTTPRouteGroup (specs.smi-spec.io) → HttpRouteGroupModel: named HTTP matches that TrafficTargets refer to.
import type { HttpRouteGroupMatch, HttpRouteGroupModel } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { uniqueList } from '../istio/common.ts';
import { regexError } from '../istio/string-match.ts';
import type { Reader } from '../read.ts';
import { defined, list, nonEmptyString, object, readObject, record, stringWith } from '../read.ts';

const regex = stringWith(regexError);

/** HTTP methods, or `*` for all (kept as no method list). */
const methods: Reader<string[] | null> = (check, value, path) => {
  const entries = list(nonEmptyString, { nonEmpty: true })(check, value, path);
  if (entries === undefined) return undefined;
  return entries.includes('*') ? null : entries.map((m) => m.toUpperCase());
};

function headerNameError(name: string): string | undefined {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) ? undefined : `"${name}" is not a valid header name`;
}

const match: Reader<HttpRouteGroupMatch> = object((f) => {
  const name = f.required('name', nonEmptyString);
  const headers = f.optional('headers', record(regex, headerNameError));
  const value = defined<HttpRouteGroupMatch>({
    name: name ?? '',
    pathRegex: f.optional('pathRegex', regex),
    methods: f.optional('methods', methods) ?? undefined,
    headers:
      headers === undefined
        ? undefined
        : Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
  });
  return name === undefined ? undefined : value;
});

/** Reads `spec` of an HTTPRouteGroup named by `context`. */
export function readHttpRouteGroup(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): HttpRouteGroupModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const matches = f.required(
      'matches',
      uniqueList(match, 'name', (m) => m.name),
    );
    if (matches !== undefined && matches.length === 0) check.error(f.at('matches'), 'must not be empty');
    return matches === undefined ? undefined : { name: context.name, namespace: context.namespace, matches };
  });
}
