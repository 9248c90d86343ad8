// Envoy v3 protos (protobufjs reflection) from @grpc/grpc-js-xds's copy: encode and decode xDS resources by type URL (control plane, tests).
import protobuf from 'protobufjs';
import { cachedOutput } from './cached-output.ts';
import { PROTO_FILES, parseEnvoyProtos, protoSourceVersions } from './protos-source.ts';

export { PROTO_FILES };

function fromJson(text: string): protobuf.Root {
  const root = protobuf.Root.fromJSON(JSON.parse(text));
  root.resolveAll();
  return root;
}

/**
 * Loads the Envoy protos. Parsing the .proto text costs ~40 MB of resident memory that the
 * process never gives back, so it happens once in a child process that prints the parsed root
 * as JSON; every later start (the control plane, tests) loads that JSON from the cache.
 */
function loadRoot(): protobuf.Root {
  return fromJson(
    cachedOutput({
      name: 'envoy-protos',
      key: protoSourceVersions(),
      script: new URL('./protos-source.ts', import.meta.url),
      inProcess: () => JSON.stringify(parseEnvoyProtos().toJSON()),
    }),
  );
}

/**
 * protobufjs packs and unpacks every `Any` (each typed_config) after looking its type up by name,
 * a walk of the whole namespace tree; the answers never change, so they are kept.
 */
function cacheAnyLookups(root: protobuf.Root): protobuf.Root {
  const any = root.lookupType('google.protobuf.Any');
  const lookup = any.lookup.bind(any);
  const found = new Map<string, protobuf.ReflectionObject | null>();
  any.lookup = ((path: string | string[], ...rest: unknown[]) => {
    if (rest.length > 0 || typeof path !== 'string')
      return (lookup as (...args: unknown[]) => unknown)(path, ...rest);
    let object = found.get(path);
    if (object === undefined) {
      object = lookup(path);
      found.set(path, object);
    }
    return object;
  }) as typeof any.lookup;
  return root;
}

/** The loaded protobufjs root with every Envoy message weft uses. */
export const root: protobuf.Root = cacheAnyLookups(loadRoot());

const typeCache = new Map<string, protobuf.Type>();

/** The message type for a type URL (`type.googleapis.com/envoy.config.listener.v3.Listener`) or full name. */
export function messageType(typeUrlOrName: string): protobuf.Type {
  let type = typeCache.get(typeUrlOrName);
  if (type) return type;
  const name = typeUrlOrName.slice(typeUrlOrName.lastIndexOf('/') + 1);
  type = root.lookupType(name);
  typeCache.set(typeUrlOrName, type);
  return type;
}

/** How decoded resources look: enums as strings, longs as numbers, Any as `{'@type', ...}`, no defaults. */
const DECODE_OPTIONS: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  bytes: String,
  json: true,
  defaults: false,
};

/**
 * Encodes a resource given as a plain object in protobufjs form (snake_case fields, enums as
 * strings, nested Any as `{'@type': url, ...}`, Duration as `{seconds, nanos}`).
 */
export function encodeResource(typeUrl: string, object: object): Buffer {
  const type = messageType(typeUrl);
  const message = type.fromObject(object as Record<string, unknown>);
  const bytes = type.encode(message).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes resource bytes into the plain form described in docs/xds.md (`decodeResource`). */
export function decodeResource(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const type = messageType(typeUrl);
  return type.toObject(type.decode(bytes), DECODE_OPTIONS);
}

/**
 * Field paths in `object` that the message type does not have (protobufjs `fromObject`
 * drops them silently). Used by tests to prove generators emit no misspelt field.
 */
export function unknownFields(typeUrl: string, object: unknown): string[] {
  const problems: string[] = [];
  walkMessage(messageType(typeUrl), object, '', problems);
  return problems;
}

function walkMessage(type: protobuf.Type, value: unknown, path: string, problems: string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${path || '.'}: expected a ${type.fullName} object`);
    return;
  }
  const object = value as Record<string, unknown>;
  if (type.fullName === '.google.protobuf.Any') {
    const url = object['@type'];
    if (typeof url !== 'string') {
      problems.push(`${path}: Any without @type`);
      return;
    }
    const { '@type': _, ...rest } = object;
    walkMessage(messageType(url), rest, `${path}<${url.slice(url.lastIndexOf('.') + 1)}>`, problems);
    return;
  }
  for (const [key, fieldValue] of Object.entries(object)) {
    const field = type.fields[key];
    const fieldPath = path ? `${path}.${key}` : key;
    if (!field) {
      problems.push(`${fieldPath}: no such field in ${type.fullName}`);
      continue;
    }
    const resolved = field.resolve().resolvedType;
    if (!(resolved instanceof protobuf.Type)) continue;
    if (field.map) {
      for (const [k, v] of Object.entries(fieldValue as Record<string, unknown>)) {
        walkMessage(resolved, v, `${fieldPath}[${k}]`, problems);
      }
    } else if (field.repeated) {
      if (!Array.isArray(fieldValue)) problems.push(`${fieldPath}: expected a list`);
      else {
        for (const [i, v] of fieldValue.entries()) walkMessage(resolved, v, `${fieldPath}[${i}]`, problems);
      }
    } else {
      walkMessage(resolved, fieldValue, fieldPath, problems);
    }
  }
}
