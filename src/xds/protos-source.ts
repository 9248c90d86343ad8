// Parses the Envoy .proto files weft uses from @grpc/grpc-js-xds's copy; run as a script it prints them as protobufjs JSON.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_FILES } from './proto-files.ts';

export { PROTO_FILES, protoSourceVersions } from './proto-files.ts';

const require = createRequire(import.meta.url);

/** Folders holding the Envoy API protos and their dependencies, in @grpc/grpc-js-xds's package. */
const DEPS = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(DEPS, d));

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
