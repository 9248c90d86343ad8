// The Envoy .proto files weft uses and the package versions their parsed forms depend on (no protobufjs: a sidecar imports it).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Every proto file weft encodes or decodes; their imports are loaded with them. */
export const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/connection_limit/v3/connection_limit.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'xds/type/v3/typed_struct.proto',
];

/** Versions the parsed result depends on: a cached copy is reused only while they are unchanged. */
export function protoSourceVersions(): string {
  const xds = require('@grpc/grpc-js-xds/package.json') as { version: string };
  const pbjs = require('protobufjs/package.json') as { version: string };
  return `grpc-js-xds ${xds.version}; protobufjs ${pbjs.version}; ${PROTO_FILES.join(',')}`;
}
