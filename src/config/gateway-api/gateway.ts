// Gateway API Gateway (gateway.networking.k8s.io) → GatewayModel, served by `weft gateway --name <name>` in its namespace.
import type { GatewayModel, GatewayServer, GatewayServerTls, Protocol } from '../../model/types.ts';
import type { Check } from '../check.ts';
import type { ResourceContext } from '../istio/common.ts';
import { uniqueList } from '../istio/common.ts';
import { dnsLabel, stringMap } from '../names.ts';
import type { Fields, Reader } from '../read.ts';
import { defined, list, object, oneOf, port, readObject, string } from '../read.ts';
import { GATEWAY_API_GROUP, hostname } from './common.ts';

/** The gateway classes weft serves. */
export const GATEWAY_CLASSES = ['weft', 'istio'];

/** The label every `weft gateway` proxy carries: the Gateway API Gateway it serves (as Istio labels its deployments). */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

/** `tls.options` keys that name the certificate files (weft's file-based stand-in for certificateRefs). */
export const TLS_OPTION = {
  certificate: 'weft.dev/certificate-file',
  privateKey: 'weft.dev/private-key-file',
} as const;

const LISTENER_PROTOCOLS: Record<string, Protocol> = { HTTP: 'HTTP', HTTPS: 'HTTPS', TLS: 'TLS', TCP: 'TCP' };

const CERTIFICATE_REFS_NOTE = `certificateRefs name Kubernetes Secrets, which weft does not read; give PEM files in tls.options "${TLS_OPTION.certificate}" and "${TLS_OPTION.privateKey}"`;

const listenerProtocol: Reader<Protocol> = (check, value, path) => {
  const text = string(check, value, path);
  if (text === undefined) return undefined;
  const protocol = LISTENER_PROTOCOLS[text];
  if (protocol !== undefined) return protocol;
  check.error(
    path,
    text === 'UDP'
      ? 'protocol UDP is not supported by weft: it proxies TCP, HTTP and gRPC only'
      : `must be one of HTTP, HTTPS, TLS, TCP, got "${text}"`,
    text === 'UDP' ? 'unsupported' : 'invalid',
  );
  return undefined;
};

const listenerTls: Reader<GatewayServerTls> = object((f) => {
  const mode = f.optional('mode', oneOf(['Terminate', 'Passthrough'])) ?? 'Terminate';
  const options = f.optional('options', stringMap) ?? {};
  f.optional('certificateRefs', (check, value, path) => {
    if (Array.isArray(value) && value.length === 0) return undefined;
    check.error(
      path,
      `field certificateRefs is not supported by weft: ${CERTIFICATE_REFS_NOTE}`,
      'unsupported',
    );
    return undefined;
  });
  f.optional('frontendValidation', (check, _value, path) => {
    check.error(
      path,
      'client certificate validation on Gateway API listeners is not supported by weft (yet); use an Istio Gateway with tls.mode MUTUAL',
      'unsupported',
    );
    return undefined;
  });
  if (mode === 'Passthrough') return { mode: 'PASSTHROUGH', subjectAltNames: [] };
  const serverCertificate = options[TLS_OPTION.certificate];
  const privateKey = options[TLS_OPTION.privateKey];
  if (
    !f.has('certificateRefs') ||
    (Array.isArray(f.value.certificateRefs) && f.value.certificateRefs.length === 0)
  ) {
    if (serverCertificate === undefined)
      f.check.error(
        [...f.at('options'), TLS_OPTION.certificate],
        `mode Terminate needs a certificate: ${CERTIFICATE_REFS_NOTE}`,
        'missing',
      );
    if (privateKey === undefined)
      f.check.error(
        [...f.at('options'), TLS_OPTION.privateKey],
        `mode Terminate needs a private key: ${CERTIFICATE_REFS_NOTE}`,
        'missing',
      );
  }
  return defined<GatewayServerTls>({ mode: 'SIMPLE', serverCertificate, privateKey, subjectAltNames: [] });
});

/** Route kinds a listener of each protocol accepts by default. */
const DEFAULT_KINDS: Record<string, string[]> = {
  HTTP: ['HTTPRoute', 'GRPCRoute'],
  HTTPS: ['HTTPRoute', 'GRPCRoute'],
  TLS: ['TLSRoute'],
  TCP: ['TCPRoute'],
};

const allowedRoutes: Reader<{ namespaces: 'Same' | 'All'; kinds?: string[] }> = object((f) => {
  const namespaces =
    f.optional(
      'namespaces',
      object((n) => {
        const from = n.optional('from', oneOf(['Same', 'All', 'Selector'])) ?? 'Same';
        n.optional('selector', () => undefined);
        if (from === 'Selector') {
          n.check.error(
            n.at('from'),
            'from: Selector is not supported by weft: it has no Namespace objects with labels; use Same or All',
            'unsupported',
          );
          return undefined;
        }
        return from;
      }),
    ) ?? 'Same';
  const kinds = f.optional(
    'kinds',
    list(
      object((k) => {
        const group = k.optional('group', string) ?? GATEWAY_API_GROUP;
        const kind = k.required(
          'kind',
          oneOf(['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute']),
        );
        if (group !== GATEWAY_API_GROUP) {
          k.check.error(k.at('group'), `group must be ${GATEWAY_API_GROUP}`);
          return undefined;
        }
        return kind;
      }),
    ),
  );
  return { namespaces, ...(kinds === undefined ? {} : { kinds }) };
});

function listener(): Reader<GatewayServer> {
  return object((f) => {
    const name = f.required('name', dnsLabel);
    const listenerPort = f.required('port', port);
    const protocol = f.required('protocol', listenerProtocol);
    const host = f.optional('hostname', hostname);
    const tls = f.optional('tls', listenerTls);
    const allowed = f.optional('allowedRoutes', allowedRoutes);
    if (name === undefined || listenerPort === undefined || protocol === undefined) return undefined;
    if ((protocol === 'HTTP' || protocol === 'TCP') && f.has('tls'))
      f.check.error(f.at('tls'), `a ${protocol} listener has no tls settings`);
    if (protocol === 'HTTPS' && tls?.mode === 'PASSTHROUGH')
      f.check.error(
        [...f.at('tls'), 'mode'],
        'an HTTPS listener terminates TLS; use protocol TLS for Passthrough',
      );
    if (protocol !== 'HTTP' && protocol !== 'TCP' && !f.has('tls'))
      f.check.error(f.at('tls'), `a ${protocol} listener needs tls settings`, 'missing');
    if (protocol === 'TLS' && tls?.mode === 'SIMPLE')
      f.check.error(
        [...f.at('tls'), 'mode'],
        'TLS listeners in mode Terminate (TLS ended at the gateway, then TCP) are not supported by weft (yet); use Passthrough with TLSRoutes, or a TCP listener',
        'unsupported',
      );
    return defined<GatewayServer>({
      name,
      port: { number: listenerPort, name, protocol },
      hosts: [{ namespace: '*', host: host ?? '*' }],
      httpsRedirect: false,
      tls: protocol === 'HTTP' || protocol === 'TCP' ? undefined : tls,
      allowedRoutes: {
        namespaces: allowed?.namespaces ?? 'Same',
        kinds: allowed?.kinds ?? DEFAULT_KINDS[protocol] ?? [],
      },
    });
  });
}

/**
 * A Gateway of another controller's class: left alone, as a controller that does not own the
 * class would (its fields are not read), and noted as such.
 */
function foreignGateway(f: Fields, className: string, context: ResourceContext): GatewayModel {
  const notServed = `class "${className}" belongs to another controller (weft serves ${GATEWAY_CLASSES.join(' and ')}), so weft does not serve it`;
  f.check.warn(f.at('gatewayClassName'), notServed);
  for (const key of Object.keys(f.value)) f.optional(key, () => undefined);
  return {
    name: context.name,
    namespace: context.namespace,
    dialect: 'gateway-api',
    selector: { [GATEWAY_NAME_LABEL]: context.name },
    selectorNamespace: context.namespace,
    servers: [],
    notServed,
  };
}

/** Reads `spec` of a Gateway API Gateway named by `context`. */
export function readGatewayApiGateway(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): GatewayModel | undefined {
  return readObject(
    check,
    spec,
    ['spec'],
    (f) => {
      const className = f.required('gatewayClassName', string);
      if (className !== undefined && !GATEWAY_CLASSES.includes(className))
        return foreignGateway(f, className, context);
      const servers =
        f.required(
          'listeners',
          uniqueList(listener(), 'name', (l) => l.name ?? ''),
        ) ?? [];
      if (Array.isArray(f.value.listeners) && f.value.listeners.length === 0)
        check.error(f.at('listeners'), 'a Gateway needs at least one listener');
      // Listeners on one port must agree on plain (HTTP) versus TLS (HTTPS, TLS), and differ in hostname.
      const seen = new Map<string, number>();
      const kinds = new Map<number, boolean>();
      servers.forEach((s, i) => {
        const key = `${s.port.number}/${s.port.protocol}/${s.hosts[0].host}`;
        const first = seen.get(key);
        if (first !== undefined)
          check.error(
            ['spec', 'listeners', i],
            `listeners[${first}] already serves ${s.port.protocol} for hostname ${s.hosts[0].host} on port ${s.port.number}`,
          );
        seen.set(key, i);
        const plain = s.port.protocol === 'HTTP';
        const other = kinds.get(s.port.number);
        if (other !== undefined && other !== plain)
          check.error(
            ['spec', 'listeners', i, 'protocol'],
            `port ${s.port.number} mixes HTTP with TLS listeners; give them different ports`,
          );
        kinds.set(s.port.number, plain);
      });
      return {
        name: context.name,
        namespace: context.namespace,
        dialect: 'gateway-api',
        selector: { [GATEWAY_NAME_LABEL]: context.name },
        selectorNamespace: context.namespace,
        servers,
      };
    },
    {
      unsupported: {
        addresses: 'weft gateway binds the ports given by its --port flags',
        infrastructure: 'weft gateway is started by hand (weft gateway --name NAME)',
        backendTLS: 'TLS to backends comes with mutual TLS in the mesh',
      },
    },
  );
}
