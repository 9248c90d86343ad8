// Istio Gateway (networking.istio.io) → GatewayModel: which gateway proxies it selects and the servers they expose.
import { protocolFromName } from '../../model/protocol.ts';
import type {
  GatewayHost,
  GatewayModel,
  GatewayServer,
  GatewayServerTls,
  Protocol,
} from '../../model/types.ts';
import type { Check } from '../check.ts';
import { hostSyntaxError } from '../host.ts';
import { dnsLabelError, labels } from '../names.ts';
import type { Reader } from '../read.ts';
import {
  boolean,
  defined,
  list,
  nonEmptyString,
  object,
  oneOf,
  port,
  readObject,
  string,
  stringList,
} from '../read.ts';
import type { ResourceContext } from './common.ts';

/** Protocols a gateway server may declare, and what the model calls them. */
const SERVER_PROTOCOLS: readonly Protocol[] = ['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'TLS', 'TCP'];

const TLS_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const;

/** Server protocols carried as HTTP by the gateway (routed by VirtualService `http[]`). */
export function isHttpServerProtocol(protocol: Protocol): boolean {
  return protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'GRPC';
}

const serverProtocol: Reader<Protocol> = (check, value, path) => {
  const text = string(check, value, path);
  if (text === undefined) return undefined;
  const protocol = protocolFromName(text);
  if (protocol !== undefined && SERVER_PROTOCOLS.includes(protocol)) return protocol;
  check.error(
    path,
    protocol === undefined
      ? `must be one of ${SERVER_PROTOCOLS.join(', ')}, got "${text}"`
      : `protocol ${text} is not supported on gateway servers by weft (yet); use TCP`,
    protocol === undefined ? 'invalid' : 'unsupported',
  );
  return undefined;
};

const serverPort = object(
  (f) => {
    const number = f.required('number', port);
    const protocol = f.required('protocol', serverProtocol);
    const name = f.optional('name', string);
    f.ignored(
      'targetPort',
      'deprecated in Istio, which ignores it on Gateway servers; weft gateway maps service ports to local ones with --port SERVICE_PORT=LOCAL_PORT',
    );
    if (number === undefined || protocol === undefined) return undefined;
    return { number, protocol, name: name ?? `${protocol.toLowerCase()}-${number}` };
  },
  {
    unsupported: {},
  },
);

/**
 * `hosts[]`: `[namespace/]dnsName`. The namespace part (`*` any, `.` the Gateway's own, or a
 * name) limits which namespaces' VirtualServices may bind to the host; absent means `*`.
 */
function gatewayHost(context: ResourceContext): Reader<GatewayHost> {
  return (check, value, path) => {
    const text = nonEmptyString(check, value, path);
    if (text === undefined) return undefined;
    const slash = text.indexOf('/');
    const namespacePart = slash === -1 ? '*' : text.slice(0, slash);
    const host = (slash === -1 ? text : text.slice(slash + 1)).toLowerCase();
    const namespace = namespacePart === '.' ? context.namespace : namespacePart;
    if (namespace !== '*' && namespace !== '~') {
      const error = dnsLabelError(namespace);
      if (error !== undefined) {
        check.error(path, `the namespace part of "${text}" ${error}; write *, . or a namespace`);
        return undefined;
      }
    }
    if (namespace === '~') {
      check.error(path, `"${text}": the ~ namespace (bind no VirtualService) is not supported by weft`);
      return undefined;
    }
    const error = hostSyntaxError(host);
    if (error !== undefined) {
      check.error(path, error);
      return undefined;
    }
    return { namespace, host };
  };
}

/** What `tls` of a server says: its redirect flag and, for HTTPS/TLS servers, the TLS settings. */
interface ServerTlsFields {
  httpsRedirect: boolean;
  tls?: GatewayServerTls;
  /** Whether `mode` was written (HTTP servers may only set httpsRedirect). */
  modeGiven: boolean;
}

const CREDENTIAL_NOTE =
  'credentialName names a Kubernetes Secret, which weft does not read; give PEM files with serverCertificate and privateKey (and caCertificates for MUTUAL)';

/** `tls` of a server; certificate checks apply to HTTPS and TLS servers only (`secure`). */
const serverTls = (secure: boolean): Reader<ServerTlsFields> =>
  object(
    (f) => {
      const httpsRedirect = f.optional('httpsRedirect', boolean) ?? false;
      // Istio's default mode is PASSTHROUGH (the enum's zero value).
      const mode =
        f.optional(
          'mode',
          oneOf(['SIMPLE', 'MUTUAL', 'PASSTHROUGH', 'ISTIO_MUTUAL', 'AUTO_PASSTHROUGH', 'OPTIONAL_MUTUAL']),
        ) ?? 'PASSTHROUGH';
      const serverCertificate = f.optional('serverCertificate', nonEmptyString);
      const privateKey = f.optional('privateKey', nonEmptyString);
      const caCertificates = f.optional('caCertificates', nonEmptyString);
      const subjectAltNames = f.optional('subjectAltNames', stringList) ?? [];
      const version = (key: string) => {
        const v = f.optional(key, oneOf(TLS_VERSIONS));
        return v === 'TLS_AUTO' ? undefined : v;
      };
      const minProtocolVersion = version('minProtocolVersion');
      const maxProtocolVersion = version('maxProtocolVersion');
      for (const key of ['credentialName', 'credentialNames'])
        f.optional(key, (check, _value, path) => {
          check.error(path, `field ${key} is not supported by weft: ${CREDENTIAL_NOTE}`, 'unsupported');
          return undefined;
        });
      if (secure && (mode === 'ISTIO_MUTUAL' || mode === 'AUTO_PASSTHROUGH' || mode === 'OPTIONAL_MUTUAL')) {
        const why: Record<string, string> = {
          ISTIO_MUTUAL:
            'mesh certificates on gateway servers arrive with mutual TLS in the mesh; use SIMPLE or MUTUAL with files',
          AUTO_PASSTHROUGH: 'it serves multi-cluster east-west traffic, which weft does not have',
          OPTIONAL_MUTUAL: 'use MUTUAL (client certificate required) or SIMPLE',
        };
        f.check.error(
          f.at('mode'),
          `tls mode ${mode} is not supported by weft (yet): ${why[mode]}`,
          'unsupported',
        );
      }
      const terminates = secure && (mode === 'SIMPLE' || mode === 'MUTUAL');
      if (terminates) {
        if (serverCertificate === undefined && !f.has('credentialName') && !f.has('credentialNames'))
          f.check.error(
            f.at('serverCertificate'),
            `tls mode ${mode} needs serverCertificate (a PEM file)`,
            'missing',
          );
        if (privateKey === undefined && !f.has('credentialName') && !f.has('credentialNames'))
          f.check.error(f.at('privateKey'), `tls mode ${mode} needs privateKey (a PEM file)`, 'missing');
      }
      if (terminates && mode === 'MUTUAL' && caCertificates === undefined && !f.has('credentialName'))
        f.check.error(f.at('caCertificates'), 'tls mode MUTUAL needs caCertificates (a PEM file)', 'missing');
      if (secure && mode === 'PASSTHROUGH')
        for (const key of ['serverCertificate', 'privateKey', 'caCertificates'])
          if (f.has(key)) f.check.warn(f.at(key), `ignored: tls mode PASSTHROUGH does not terminate TLS`);
      const tls =
        mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'PASSTHROUGH'
          ? defined<GatewayServerTls>({
              mode,
              serverCertificate: terminates ? serverCertificate : undefined,
              privateKey: terminates ? privateKey : undefined,
              caCertificates: mode === 'MUTUAL' ? caCertificates : undefined,
              subjectAltNames: mode === 'MUTUAL' ? subjectAltNames : [],
              minProtocolVersion,
              maxProtocolVersion,
            })
          : undefined;
      return { httpsRedirect, tls, modeGiven: f.has('mode') };
    },
    {
      unsupported: {
        cipherSuites: 'the TLS library picks its default cipher suites',
        verifyCertificateSpki: 'use caCertificates and subjectAltNames',
        verifyCertificateHash: 'use caCertificates and subjectAltNames',
        caCrl: 'certificate revocation lists are not implemented',
        tlsCertificates: 'give one serverCertificate and privateKey',
        caCertCredentialName: 'give caCertificates as a file path',
        ecdhCurves: 'the TLS library picks its default curves',
        insecureSkipVerify: 'client certificates are always verified in MUTUAL mode',
      },
    },
  );

function server(context: ResourceContext): Reader<GatewayServer> {
  return object(
    (f) => {
      const serverPortValue = f.required('port', serverPort);
      const hosts = f.required('hosts', list(gatewayHost(context), { nonEmpty: true })) ?? [];
      const protocolGiven = serverPortValue?.protocol;
      const tlsFields = f.optional('tls', serverTls(protocolGiven === 'HTTPS' || protocolGiven === 'TLS'));
      const name = f.optional('name', nonEmptyString);
      if (serverPortValue === undefined) return undefined;
      const { protocol } = serverPortValue;
      const secure = protocol === 'HTTPS' || protocol === 'TLS';
      if (secure && tlsFields === undefined)
        f.check.error(
          f.at('tls'),
          `a ${protocol} server needs tls settings (mode SIMPLE, MUTUAL or PASSTHROUGH)`,
          'missing',
        );
      if (!secure && tlsFields?.modeGiven)
        f.check.error(
          f.at('tls'),
          `tls.mode applies to HTTPS and TLS servers; a ${protocol} server may only set tls.httpsRedirect`,
        );
      if (tlsFields?.httpsRedirect && !isHttpServerProtocol(protocol))
        f.check.error([...f.at('tls'), 'httpsRedirect'], 'httpsRedirect only applies to HTTP servers');
      return defined<GatewayServer>({
        name,
        port: serverPortValue,
        hosts,
        httpsRedirect: tlsFields?.httpsRedirect ?? false,
        tls: secure ? tlsFields?.tls : undefined,
      });
    },
    {
      unsupported: {
        bind: 'weft gateway listens on every address (0.0.0.0) of its host',
        defaultEndpoint: 'servers of weft gateways route through VirtualServices',
      },
    },
  );
}

/** Port numbers used with protocols that cannot share a listener (HTTP with TLS, or with TCP). */
function portConflicts(check: Check, servers: readonly GatewayServer[]): void {
  const kinds = new Map<number, { kind: string; index: number }>();
  servers.forEach((s, index) => {
    const kind = isHttpServerProtocol(s.port.protocol) ? 'http' : s.port.protocol === 'TCP' ? 'tcp' : 'tls';
    const first = kinds.get(s.port.number);
    if (first === undefined) kinds.set(s.port.number, { kind, index });
    else if (first.kind !== kind)
      check.error(
        ['spec', 'servers', index, 'port'],
        `port ${s.port.number} is already used by servers[${first.index}] with another kind of protocol; plain HTTP, TLS and TCP servers need their own ports`,
      );
  });
}

/** Reads `spec` of an Istio Gateway named by `context`. */
export function readIstioGateway(
  check: Check,
  spec: unknown,
  context: ResourceContext,
): GatewayModel | undefined {
  return readObject(check, spec, ['spec'], (f) => {
    const selector = f.optional('selector', labels) ?? {};
    const servers = f.required('servers', list(server(context), { nonEmpty: true })) ?? [];
    portConflicts(check, servers);
    return {
      name: context.name,
      namespace: context.namespace,
      dialect: 'istio',
      selector,
      servers,
    };
  });
}
