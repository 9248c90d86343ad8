// Parses the Envoy .proto files weft uses from @grpc/grpc-js-xds's copy; run as a script it prints them as protobufjs JSON.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** Folders holding the Envoy API protos and their dependencies, in @grpc/grpc-js-xds's package. */
const DEPS = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(DEPS, d));

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

/** Google's well-known protos that protobufjs ships as JSON but does not register (as proto-loader does). */
function addWellKnownProtos(): void {
  for (const name of ['api', 'descriptor', 'source_context', 'type']) {
    const json = require(`protobufjs/google/protobuf/${name}.json`) as {
      nested: { google: { nested: { protobuf: { nested: protobuf.INamespace['nested'] } } } };
    };
    protobuf.common(name, json.nested.google.nested.protobuf.nested as Record<string, protobuf.INamespace>);
  }
}

/** Parses PROTO_FILES (and their imports) into a resolved protobufjs root: slow and memory-hungry (~40 MB). */
export function parseEnvoyProtos(): protobuf.Root {
  addWellKnownProtos();
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const dir of INCLUDE_DIRS) {
      const candidate = join(dir, target);
      if (protobuf.util.fs?.existsSync?.(candidate)) return candidate;
    }
    // Relative to the importing file, as protoc would after the include dirs.
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(PROTO_FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

if (import.meta.main) process.stdout.write(JSON.stringify(parseEnvoyProtos().toJSON()));
