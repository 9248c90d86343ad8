// Istio ServiceEntry → one Service per host, with inline endpoints or a workload selector.

import { isWildcardHost, shortServiceName } from '../../model/hostnames.ts';
import { portProtocol, protocolFromName, UNSUPPORTED_PROTOCOLS } from '../../model/protocol.ts';
import type { Service, ServicePort, Workload } from '../../model/types.ts';
import type { Check } from '../check.ts';
import { isIpAddress } from '../host.ts';
import { dnsLabel, labels } from '../names.ts';
import type { Reader } from '../read.ts';
import { defined, list, object, oneOf, port, readObject, string, stringList } from '../read.ts';
import type { ResourceContext } from './common.ts';
import { exportTo, host, uniqueList } from './common.ts';
import type { WorkloadEntryFields } from './workload-entry.ts';
import { workloadEntryFields } from './workload-entry.ts';

const protocolName: Reader<string> = (check, value, path) => {
  const text = string(check, value, path);
  if (text === undefined) return undefined;
  if (protocolFromName(text) !== undefined) return text;
  if (UNSUPPORTED_PROTOCOLS.includes(text.toUpperCase()))
    check.error(path, `protocol ${text} is not supported by weft (yet); use TCP`, 'unsupported');
  else
    check.error(
      path,
      `must be one of HTTP, HTTPS, HTTP2, GRPC, GRPC-Web, TCP, TLS, MONGO, REDIS, got "${text}"`,
    );
  return undefined;
};

const servicePort = object((f) => {
  const name = f.required('name', dnsLabel) ?? '';
  return defined<ServicePort>({
    number: f.required('number', port) ?? 0,
    name,
    protocol: portProtocol({ protocol: f.optional('protocol', protocolName), name }),
    targetPort: f.optional('targetPort', port),
  });
});

const ipOrCidr: Reader<string> = (check, value, path) => {
  const text = string(check, value, path);
  if (text === undefined) return undefined;
  const [ip, bits, extra] = text.split('/');
  const maxBits = ip.includes(':') ? 128 : 32;
  if (
    isIpAddress(ip) &&
    extra === undefined &&
    (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits))
  )
    return text;
  check.error(path, `"${text}" is not an IP address or CIDR block`);
  return undefined;
};

/** Reads `spec` of a ServiceEntry named by `context` into one Service per host. */
export function readServiceEntry(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): Service[] | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const hosts = f.required('hosts', list(host(context, { wildcard: true }), { nonEmpty: true })) ?? [];
    const ports =
      f.required(
        'ports',
        uniqueList(servicePort, 'number', (p) => p.number),
      ) ?? [];
    const portNames = new Set<string>();
    ports.forEach((p, i) => {
      if (portNames.has(p.name))
        check.error(['spec', 'ports', i, 'name'], `port name ${p.name} is used more than once`);
      portNames.add(p.name);
    });
    if (f.has('ports') && ports.length === 0)
      check.error(f.at('ports'), 'a ServiceEntry needs at least one port');
    const location = f.optional('location', oneOf(['MESH_EXTERNAL', 'MESH_INTERNAL'])) ?? 'MESH_EXTERNAL';
    const resolution =
      f.optional('resolution', oneOf(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'])) ?? 'NONE';
    const entries =
      f.optional('endpoints', list(object((e): WorkloadEntryFields => workloadEntryFields(e, portNames)))) ??
      [];
    const selector = f.optional(
      'workloadSelector',
      object((w) => w.required('labels', labels)),
    );
    const addresses = f.optional('addresses', list(ipOrCidr));
    const sans = f.optional('subjectAltNames', stringList) ?? [];
    const visibility = f.optional('exportTo', exportTo(context));

    if (hosts.includes('*')) check.error(f.at('hosts'), 'a ServiceEntry cannot claim every host ("*")');
    if (f.has('endpoints') && f.has('workloadSelector'))
      check.error(
        f.at('workloadSelector'),
        'set either endpoints or workloadSelector, not both (as in Istio)',
      );
    if (resolution === 'STATIC') {
      if (!f.has('endpoints') && !f.has('workloadSelector'))
        check.error(f.at('endpoints'), 'resolution STATIC needs endpoints or a workloadSelector', 'missing');
      entries.forEach((entry, i) => {
        if (entry.address !== '' && !isIpAddress(entry.address))
          check.error(
            ['spec', 'endpoints', i, 'address'],
            `resolution STATIC needs IP addresses, got "${entry.address}"`,
          );
      });
    }
    const dnsOwnEndpoints =
      (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') &&
      !f.has('endpoints') &&
      !f.has('workloadSelector');
    if (dnsOwnEndpoints)
      hosts.forEach((name, i) => {
        if (isWildcardHost(name))
          check.error(
            ['spec', 'hosts', i],
            `resolution ${resolution} without endpoints resolves the hosts themselves; "${name}" is a wildcard`,
          );
      });

    const endpoints: Workload[] = entries.map((entry, i) => ({
      uid: `ServiceEntry/${context.namespace}/${context.name}/${i}`,
      name: `${context.name}-${i}`,
      namespace: context.namespace,
      ...entry,
      health: 'HEALTHY',
      source: 'ServiceEntry',
    }));
    return hosts.map((hostname) =>
      defined<Service>({
        hostname,
        name: shortServiceName(hostname, context.domainSuffix),
        namespace: context.namespace,
        ports,
        endpoints: dnsOwnEndpoints ? [hostEndpoint(hostname, context)] : endpoints,
        location,
        resolution,
        subjectAltNames: sans,
        origin: { kind: 'ServiceEntry', namespace: context.namespace, name: context.name },
        selector,
        addresses,
        exportTo: visibility,
      }),
    );
  });
}

/** Istio's endpoint for a DNS ServiceEntry without endpoints: the host itself, resolved by the proxy. */
function hostEndpoint(hostname: string, context: ResourceContext): Workload {
  return {
    uid: `ServiceEntry/${context.namespace}/${context.name}/${hostname}`,
    name: hostname,
    namespace: context.namespace,
    address: hostname,
    labels: {},
    serviceAccount: 'default',
    ports: {},
    weight: 1,
    health: 'HEALTHY',
    source: 'ServiceEntry',
  };
}
