// The protocol of a service port, by Istio's rules: explicit protocol, else the port-name prefix, else appProtocol.
import type { Protocol } from './types.ts';

/** Istio protocol names (case-insensitive) and what weft's model calls them. */
const NAMES: ReadonlyMap<string, Protocol> = new Map(
  Object.entries({
    http: 'HTTP',
    http2: 'HTTP2',
    grpc: 'GRPC',
    // gRPC-Web runs over HTTP/1.1 and HTTP/2 alike; Istio treats it as HTTP.
    'grpc-web': 'HTTP',
    tcp: 'TCP',
    tls: 'TLS',
    https: 'HTTPS',
    mongo: 'MONGO',
    redis: 'REDIS',
  } satisfies Record<string, Protocol>),
);

/** Kubernetes `appProtocol` values that are not plain protocol names. */
const APP_PROTOCOLS: ReadonlyMap<string, Protocol> = new Map(
  Object.entries({
    'kubernetes.io/h2c': 'HTTP2',
    'kubernetes.io/ws': 'HTTP',
    'kubernetes.io/wss': 'HTTPS',
  } satisfies Record<string, Protocol>),
);

/** The protocol an Istio protocol name stands for (`HTTP`, `grpc`, `GRPC-Web`), or undefined. */
export function protocolFromName(name: string): Protocol | undefined {
  return NAMES.get(name.toLowerCase());
}

/** Istio protocol names weft recognises but does not implement. */
export const UNSUPPORTED_PROTOCOLS = ['MYSQL', 'UDP', 'THRIFT', 'HTTP_PROXY'];

/** What a port says about itself: the fields that decide its protocol. */
export interface PortDeclaration {
  protocol?: string;
  name?: string;
  appProtocol?: string;
}

/**
 * The protocol of a port: `protocol` when given; else the port name's prefix as Istio reads it
 * (`http`, `http-web`, `grpc-api`, `http2`, `tcp-db`, `tls`, `https-admin`, `grpc-web`, ...);
 * else `appProtocol`; else UNKNOWN (the xDS generators decide how to treat it).
 */
export function portProtocol(port: PortDeclaration): Protocol {
  if (port.protocol !== undefined) return protocolFromName(port.protocol) ?? 'UNKNOWN';
  if (port.name !== undefined) {
    const name = port.name.toLowerCase();
    const byName = NAMES.get(name) ?? (name.startsWith('grpc-web') ? 'HTTP' : NAMES.get(name.split('-')[0]));
    if (byName !== undefined) return byName;
  }
  if (port.appProtocol !== undefined)
    return (
      APP_PROTOCOLS.get(port.appProtocol.toLowerCase()) ?? protocolFromName(port.appProtocol) ?? 'UNKNOWN'
    );
  return 'UNKNOWN';
}
