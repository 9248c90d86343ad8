// xDS node identity: the proxy a stream serves (from node.id/cluster/metadata) and, for a sidecar, its Workload.
import { XdsNodeInvalidError } from '../../errors.ts';
import type { Labels, Protocol, Workload } from '../../model/types.ts';
import type { WireNode } from '../../xds/discovery.ts';
import { NODE_METADATA } from '../../xds/node-metadata.ts';
import { structToJson } from '../../xds/struct.ts';

/** What a weft sidecar declares about the service it fronts. */
export interface SidecarService {
  name: string;
  port: number;
  protocol: Protocol;
}

/** The proxy a stream serves, as the generators see it. */
export interface ProxyNode {
  /** `node.id`. */
  id: string;
  /** `node.cluster` (a sidecar's service name), may be empty. */
  cluster: string;
  /** `sidecar`: a weft sidecar or gateway (WEFT_SIDECAR); `grpc`: any other client, e.g. proxyless gRPC. */
  kind: 'sidecar' | 'grpc';
  /** `sidecar` or `gateway` for weft proxies (WEFT_ROLE). */
  role: 'sidecar' | 'gateway';
  namespace: string;
  labels: Labels;
  serviceAccount: string;
  /** IPs the workload listens on (INSTANCE_IPS). */
  instanceIps: readonly string[];
  /** Sidecars only: the service they front. */
  service?: SidecarService;
  /** Sidecars only: the app's own port. */
  appPort?: number;
  /** Sidecars only: the app port's name (`--app-port-name`), when it has one. */
  appPortName?: string;
  /** Sidecars only: inbound listener port. */
  inboundPort: number;
  /** Sidecars only: outbound listener port. */
  outboundPort: number;
  /** `region/zone/subzone` from `node.locality`, when the node sent one. */
  locality?: string;
  /** Weft proxies: the admin port (`/stats/prometheus`), when the node sent one. */
  adminPort?: number;
  /** Weft proxies on other hosts: the stats port (admin's read-only part, mutual TLS), when the node sent one. */
  statsPort?: number;
  /** Gateways only (`weft gateway --port`): each service port, the local port it is served on, its protocol. */
  gatewayPorts?: readonly GatewayPort[];
  /** The client's `node.user_agent_name` and `user_agent_version` ('' when not sent): which xDS client it is. */
  userAgent: { name: string; version: string };
}

/** One port of a gateway proxy: the service port clients and Gateway servers name, and where it listens. */
export interface GatewayPort {
  port: number;
  listenPort: number;
  protocol: Protocol;
}

/** Defaults of `weft proxy`, as in DESIGN.md. */
export const DEFAULT_INBOUND_PORT = 15006;
export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_SERVICE_PORT = 80;

const PROTOCOLS: readonly Protocol[] = [
  'HTTP',
  'HTTP2',
  'GRPC',
  'TCP',
  'TLS',
  'HTTPS',
  'MONGO',
  'REDIS',
  'UNKNOWN',
];

function text(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new XdsNodeInvalidError(`node.metadata.${key} must be a string`);
}

/** `{appPortName}` from WEFT_APP_PORT_NAME, or nothing when the sidecar named no port. */
function portNameOf(value: unknown): { appPortName?: string } {
  const name = text(value, NODE_METADATA.appPortName);
  return name === undefined ? {} : { appPortName: name };
}

function port(value: unknown, key: string): number | undefined {
  const raw = text(value, key);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new XdsNodeInvalidError(
      `node.metadata.${key} must be a port number (1-65535), got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

function labels(value: unknown): Labels {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new XdsNodeInvalidError(`node.metadata.${NODE_METADATA.labels} must be a map of strings`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) out[k] = text(v, `${NODE_METADATA.labels}.${k}`) ?? '';
  return out;
}

function ips(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  // Istio sends a comma-separated string; weft sidecars send a list.
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list))
    throw new XdsNodeInvalidError(`node.metadata.${NODE_METADATA.instanceIps} must be a list`);
  return list.map((ip) => text(ip, NODE_METADATA.instanceIps) ?? '').filter((ip) => ip !== '');
}

function protocol(value: unknown): Protocol {
  const raw = (text(value, NODE_METADATA.serviceProtocol) ?? 'HTTP').toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(raw)) {
    throw new XdsNodeInvalidError(
      `node.metadata.${NODE_METADATA.serviceProtocol} must be one of ${PROTOCOLS.join(', ')}, got ${JSON.stringify(raw)}`,
    );
  }
  return raw as Protocol;
}

function localityOf(node: WireNode): string | undefined {
  const { region = '', zone = '', sub_zone = '' } = node.locality ?? {};
  if (!region && !zone && !sub_zone) return undefined;
  return `${region}/${zone}/${sub_zone}`.replace(/\/+$/, '');
}

/** Reads the proxy from the `node` of a stream's first request; throws XdsNodeInvalidError for bad input. */
export function proxyFromNode(node: WireNode | undefined): ProxyNode {
  if (!node?.id) throw new XdsNodeInvalidError('the first request of a stream must carry node.id');
  const md = structToJson(node.metadata);
  const sidecar = text(md[NODE_METADATA.sidecar], NODE_METADATA.sidecar) === 'true';
  const namespace = text(md[NODE_METADATA.namespace], NODE_METADATA.namespace) ?? 'default';
  const base = {
    id: node.id,
    cluster: node.cluster ?? '',
    namespace,
    labels: labels(md[NODE_METADATA.labels]),
    instanceIps: ips(md[NODE_METADATA.instanceIps]),
    inboundPort: DEFAULT_INBOUND_PORT,
    outboundPort: DEFAULT_OUTBOUND_PORT,
    locality: localityOf(node),
    userAgent: { name: node.user_agent_name ?? '', version: node.user_agent_version ?? '' },
  };
  if (!sidecar) {
    return {
      ...base,
      kind: 'grpc',
      role: 'sidecar',
      serviceAccount: text(md[NODE_METADATA.serviceAccount], NODE_METADATA.serviceAccount) ?? 'default',
    };
  }
  const serviceName = text(md[NODE_METADATA.service], NODE_METADATA.service);
  const role = text(md[NODE_METADATA.role], NODE_METADATA.role) ?? 'sidecar';
  if (role !== 'sidecar' && role !== 'gateway') {
    throw new XdsNodeInvalidError(`node.metadata.${NODE_METADATA.role} must be sidecar or gateway`);
  }
  return {
    ...base,
    kind: 'sidecar',
    role,
    serviceAccount:
      text(md[NODE_METADATA.serviceAccount], NODE_METADATA.serviceAccount) ?? serviceName ?? 'default',
    service: serviceName
      ? {
          name: serviceName,
          port: port(md[NODE_METADATA.servicePort], NODE_METADATA.servicePort) ?? DEFAULT_SERVICE_PORT,
          protocol: protocol(md[NODE_METADATA.serviceProtocol]),
        }
      : undefined,
    appPort: port(md[NODE_METADATA.appPort], NODE_METADATA.appPort),
    ...portNameOf(md[NODE_METADATA.appPortName]),
    inboundPort: port(md[NODE_METADATA.inboundPort], NODE_METADATA.inboundPort) ?? DEFAULT_INBOUND_PORT,
    outboundPort: port(md[NODE_METADATA.outboundPort], NODE_METADATA.outboundPort) ?? DEFAULT_OUTBOUND_PORT,
    adminPort: port(md[NODE_METADATA.adminPort], NODE_METADATA.adminPort),
    statsPort: port(md[NODE_METADATA.statsPort], NODE_METADATA.statsPort),
    ...(role === 'gateway' ? { gatewayPorts: gatewayPorts(md[NODE_METADATA.gatewayPorts]) ?? [] } : {}),
  };
}

/** Reads `WEFT_GATEWAY_PORTS` (`80=8080/http,443=8443/https`). */
function gatewayPorts(value: unknown): GatewayPort[] | undefined {
  const raw = text(value, NODE_METADATA.gatewayPorts);
  if (raw === undefined) return undefined;
  return raw.split(',').map((entry) => {
    const m = /^(\d{1,5})=(\d{1,5})\/([A-Za-z0-9]+)$/.exec(entry.trim());
    const protocolName = m?.[3].toUpperCase() ?? '';
    if (!m || !(PROTOCOLS as readonly string[]).includes(protocolName))
      throw new XdsNodeInvalidError(
        `node.metadata.${NODE_METADATA.gatewayPorts} entries must look like 80=8080/http, got ${JSON.stringify(entry)}`,
      );
    return {
      port: port(m[1], NODE_METADATA.gatewayPorts) as number,
      listenPort: port(m[2], NODE_METADATA.gatewayPorts) as number,
      protocol: protocolName as Protocol,
    };
  });
}

/** The IP of a peer string (`127.0.0.1:5000`, `[::1]:5000`, `ipv4:…`). */
export function peerIp(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  if (bare.startsWith('[')) return bare.slice(1, bare.indexOf(']'));
  const colon = bare.lastIndexOf(':');
  return colon > 0 && bare.indexOf(':') === colon ? bare.slice(0, colon) : bare;
}

/**
 * The Workload a gateway node registers: the service `<node.cluster>.<namespace>` with every
 * port it serves, each reached on its own listener (no sidecar in front of it).
 */
function gatewayWorkload(proxy: ProxyNode, peer: string): Workload {
  const ports = proxy.gatewayPorts ?? [];
  const servicePorts = ports.map((p) => ({
    number: p.port,
    name: `${p.protocol.toLowerCase()}-${p.port}`,
    protocol: p.protocol,
  }));
  const name = proxy.cluster || proxy.id;
  return {
    uid: `proxy~${proxy.id}`,
    name: proxy.id,
    namespace: proxy.namespace,
    address: proxy.instanceIps[0] ?? peerIp(peer),
    labels: proxy.labels,
    serviceAccount: proxy.serviceAccount,
    ports: Object.fromEntries(ports.map((p, i) => [servicePorts[i].name, p.listenPort])),
    weight: 1,
    health: 'HEALTHY',
    source: 'proxy',
    ...(proxy.locality ? { locality: proxy.locality } : {}),
    ...(ports.length > 0
      ? {
          service: { name, port: ports[0].port, protocol: ports[0].protocol },
          servicePorts,
        }
      : {}),
  };
}

/** The Workload a sidecar node registers (`proxy~<node.id>`). */
export function workloadFromProxy(proxy: ProxyNode, peer: string): Workload {
  if (proxy.kind === 'sidecar' && proxy.role === 'gateway') return gatewayWorkload(proxy, peer);
  const portName = proxy.service?.protocol.toLowerCase() ?? 'http';
  return {
    uid: `proxy~${proxy.id}`,
    name: proxy.id,
    namespace: proxy.namespace,
    address: proxy.instanceIps[0] ?? peerIp(peer),
    labels: proxy.labels,
    serviceAccount: proxy.serviceAccount,
    ports: proxy.appPort === undefined ? {} : { [portName]: proxy.appPort },
    weight: 1,
    sidecar: { inboundPort: proxy.inboundPort },
    health: 'HEALTHY',
    source: 'proxy',
    ...(proxy.locality ? { locality: proxy.locality } : {}),
    ...(proxy.service ? { service: proxy.service } : {}),
  };
}
