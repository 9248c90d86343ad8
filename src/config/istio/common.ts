// Readers shared by the Istio networking kinds: hosts, destinations, exportTo, percentages, header operations.

import { isWildcardHost } from '../../model/hostnames.ts';
import type { HeaderOperations } from '../../model/types.ts';
import type { Check, FieldPath } from '../check.ts';
import type { HostContext } from '../host.ts';
import { hostSyntaxError, qualifyHost } from '../host.ts';
import { dnsLabel, dnsLabelError } from '../names.ts';
import type { Reader } from '../read.ts';
import {
  defined,
  list,
  nonEmptyString,
  numberIn,
  object,
  port,
  record,
  string,
  stringList,
  stringWith,
} from '../read.ts';

/** Where a resource lives; readers qualify the hosts it names relative to it. */
export interface ResourceContext extends HostContext {
  /** metadata.name of the resource being read. */
  name: string;
  /** metadata.annotations of the resource (e.g. Istio's `istio.io/dry-run`), when it has any. */
  annotations?: Readonly<Record<string, string>>;
  /** metadata.labels of the resource (Linkerd ServerAuthorization selects Servers by them), when it has any. */
  labels?: Readonly<Record<string, string>>;
  /** `apiVersion` of the resource, for kinds two dialects share (`Gateway`); absent: the kind's first. */
  apiVersion?: string;
}

/** A host as written (checked for syntax) and qualified for the model. */
export function host(context: HostContext, options: { wildcard: boolean; ip?: boolean }): Reader<string> {
  return (check, value, path) => {
    const text = nonEmptyString(check, value, path);
    if (text === undefined) return undefined;
    const error = hostSyntaxError(text.toLowerCase(), { allowIp: options.ip });
    if (error !== undefined) {
      check.error(path, error);
      return undefined;
    }
    if (!options.wildcard && isWildcardHost(text)) {
      check.error(path, `host "${text}" is a wildcard; name one service here`);
      return undefined;
    }
    return qualifyHost(text, context);
  };
}

/**
 * `exportTo`: `.` (this namespace, normalised to its name), `*` (every namespace), `~` (none) or
 * namespace names. Absent or empty: undefined, Istio's default (MeshConfig's `default*ExportTo`,
 * else every namespace).
 */
export function exportTo(context: HostContext): Reader<string[]> {
  return (check, value, path) => {
    const out = exportToEntries(check, value, path)?.map((e) => (e === '.' ? context.namespace : e));
    return out === undefined || out.length === 0 ? undefined : [...new Set(out)].sort();
  };
}

/** MeshConfig's `default*ExportTo`: the same entries as `exportTo`, `.` kept (each resource's own namespace). */
export const defaultExportTo: Reader<string[]> = (check, value, path) => {
  const out = exportToEntries(check, value, path);
  return out === undefined || out.length === 0 ? undefined : [...new Set(out)].sort();
};

function exportToEntries(check: Check, value: unknown, path: FieldPath): string[] | undefined {
  const entries = stringList(check, value, path);
  if (entries === undefined) return undefined;
  const out: string[] = [];
  entries.forEach((entry, index) => {
    if (entry === '.' || entry === '*' || entry === '~' || dnsLabelError(entry) === undefined)
      out.push(entry);
    else check.error([...path, index], `must be ".", "*", "~" or a namespace name, got "${entry}"`);
  });
  if (out.length > 1 && (out.includes('*') || out.includes('~')))
    check.error(path, '"*" and "~" cannot be combined with other entries');
  return out;
}

/** An Istio Destination: `host`, `subset`, `port.number`. */
export interface DestinationValue {
  host: string;
  subset?: string;
  port?: number;
}

/** Istio PortSelector `{number}` → the number. */
export const portSelector: Reader<number> = object((f) => f.required('number', port));

export function destination(context: HostContext): Reader<DestinationValue> {
  return object((f) => {
    const to = f.required('host', host(context, { wildcard: false, ip: true }));
    const value = defined<DestinationValue>({
      host: to,
      subset: f.optional('subset', dnsLabel),
      port: f.optional('port', portSelector),
    });
    return to === undefined ? undefined : value;
  });
}

/** Istio Percent `{value: 0..100}` → the value. */
export const percent: Reader<number> = object((f) => f.required('value', numberIn(0, 100)));

/** The header names an operation may use: non-empty, no spaces or colons except HTTP/2 pseudo-headers. */
function headerNameError(name: string): string | undefined {
  return /^:?[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) ? undefined : `"${name}" is not a valid header name`;
}

const headerName = stringWith(headerNameError);

/** Istio HeaderOperations: `set`, `add` (maps of header → value) and `remove` (names). */
export const headerOperations: Reader<HeaderOperations> = object((f) => ({
  set: f.optional('set', record(string, headerNameError)) ?? {},
  add: f.optional('add', record(string, headerNameError)) ?? {},
  remove: f.optional('remove', list(headerName)) ?? [],
}));

/** Istio Headers: `request` and `response` operations. */
export const headers: Reader<{ request?: HeaderOperations; response?: HeaderOperations }> = object((f) =>
  defined({
    request: f.optional('request', headerOperations),
    response: f.optional('response', headerOperations),
  }),
);

/**
 * A list whose items must differ in one field (port numbers, subset names): each repeat is
 * reported at `<item>.<field>`.
 */
export function uniqueList<T>(
  item: Reader<T>,
  field: string,
  key: (value: T) => string | number,
): Reader<T[]> {
  return (check, value, path) => {
    const seen = new Map<string | number, number>();
    return list<T>((c, entry, at) => {
      const read = item(c, entry, at);
      if (read === undefined) return undefined;
      const first = seen.get(key(read));
      const index = at[at.length - 1] as number;
      const listName = String(path[path.length - 1]);
      if (first !== undefined)
        c.error([...at, field], `${field} ${key(read)} is already used by ${listName}[${first}]`);
      else seen.set(key(read), index);
      return read;
    })(check, value, path);
  };
}
