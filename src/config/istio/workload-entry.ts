// Istio WorkloadEntry (also the inline `endpoints[]` of a ServiceEntry) → the fields of a Workload.
import type { Workload } from '../../model/types.ts';
import type { Check } from '../check.ts';
import { hostSyntaxError } from '../host.ts';
import { dnsSubdomain, labels } from '../names.ts';
import type { Fields, Reader } from '../read.ts';
import { count, defined, nonEmptyString, port, readObject, record, string } from '../read.ts';
import type { ResourceContext } from './common.ts';

/** What a WorkloadEntry spec says about a workload; the caller adds identity (uid, name, source). */
export type WorkloadEntryFields = Pick<
  Workload,
  'address' | 'labels' | 'ports' | 'serviceAccount' | 'weight' | 'locality'
>;

const address: Reader<string> = (check, value, path) => {
  const text = nonEmptyString(check, value, path);
  if (text === undefined) return undefined;
  if (text.startsWith('unix://')) {
    check.error(path, 'unix domain socket addresses are not supported by weft (yet)', 'unsupported');
    return undefined;
  }
  const error = hostSyntaxError(text.toLowerCase(), { allowIp: true });
  if (error === undefined && !text.startsWith('*')) return text.toLowerCase();
  check.error(path, `"${text}" is not an IP address or hostname`);
  return undefined;
};

const locality: Reader<string> = (check, value, path) => {
  const text = string(check, value, path);
  if (text === undefined) return undefined;
  if (/^[^/\s]+(\/[^/\s]+){0,2}$/.test(text)) return text;
  check.error(path, `locality must be region[/zone[/subzone]], got "${text}"`);
  return undefined;
};

/** Reads the fields of a WorkloadEntry spec (the map `f`). `portNames`, when given, limits `ports` keys. */
export function workloadEntryFields(f: Fields, portNames?: ReadonlySet<string>): WorkloadEntryFields {
  const ports =
    f.optional(
      'ports',
      record(port, (name) =>
        portNames === undefined || portNames.has(name)
          ? undefined
          : `port name "${name}" is not one of the ServiceEntry's ports (${[...portNames].join(', ') || 'none'})`,
      ),
    ) ?? {};
  const weight = f.optional('weight', count);
  const fields = defined<WorkloadEntryFields>({
    address: f.required('address', address) ?? '',
    labels: f.optional('labels', labels) ?? {},
    ports,
    serviceAccount: f.optional('serviceAccount', dnsSubdomain) ?? 'default',
    // Istio's weight is a proto3 integer: 0 means unset, which is 1.
    weight: weight === undefined || weight === 0 ? 1 : weight,
    locality: f.optional('locality', locality),
  });
  f.ignored('network', 'weft runs one network; multi-network gateways are not implemented');
  return fields;
}

/** Reads `spec` of a WorkloadEntry named by `context` into a Workload. */
export function readWorkloadEntry(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): Workload | undefined {
  return readObject(check, spec, ['spec'], (f) => ({
    uid: `WorkloadEntry/${context.namespace}/${context.name}`,
    name: context.name,
    namespace: context.namespace,
    ...workloadEntryFields(f),
    health: 'HEALTHY' as const,
    source: 'WorkloadEntry' as const,
  }));
}
