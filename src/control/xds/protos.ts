// Envoy v3 protos loaded at start from @grpc/grpc-js-xds's copy: encode/decode xDS resources and the ADS service.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { PROTO_FILES, parseEnvoyProtos, protoSourceVersions } from './protos-source.ts';

export { PROTO_FILES };

/** Where the parsed protos are cached as JSON: the package's node_modules/.cache, else the temp dir. */
function cacheFiles(): string[] {
  const key = createHash('sha256').update(protoSourceVersions()).digest('hex').slice(0, 16);
  const name = `envoy-protos-${key}.json`;
  return [
    join(fileURLToPath(new URL('../../../node_modules/.cache/weft/', import.meta.url)), name),
    join(tmpdir(), 'weft-cache', name),
  ];
}

function fromJson(text: string): protobuf.Root {
  const root = protobuf.Root.fromJSON(JSON.parse(text));
  root.resolveAll();
  return root;
}

/**
 * Loads the Envoy protos. Parsing the .proto text costs ~40 MB of resident memory that the
 * process never gives back, so it happens once in a child process that prints the parsed root
 * as JSON; every later start (proxies, the control plane, tests) loads that JSON from the cache.
 */
function loadRoot(): protobuf.Root {
  const files = cacheFiles();
  for (const file of files) {
    try {
      return fromJson(readFileSync(file, 'utf8'));
    } catch {
      // not cached there (or unreadable): try the next place, then generate
    }
  }
  let text: string;
  try {
    text = execFileSync(process.execPath, [fileURLToPath(new URL('./protos-source.ts', import.meta.url))], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  } catch {
    return parseEnvoyProtos();
  }
  for (const file of files) {
    try {
      mkdirSync(join(file, '..'), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, file);
      break;
    } catch {
      // not writable: try the next place (the JSON is still used below)
    }
  }
  return fromJson(text);
}

/** The loaded protobufjs root with every Envoy message weft uses. */
export const root: protobuf.Root = loadRoot();

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

const DiscoveryRequest = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const DiscoveryResponse = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const DeltaDiscoveryRequest = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const DeltaDiscoveryResponse = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');

/** Wire messages as plain objects: Any stays `{type_url, value: Buffer}`, lists always present. */
const WIRE_OPTIONS: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  bytes: Buffer,
  arrays: true,
  objects: true,
};

/** An `Any` on the wire: the resource stays encoded. */
export interface WireAny {
  type_url: string;
  value: Buffer;
}

/**
 * `google.protobuf.Struct` as protobufjs decodes it. protobufjs defines the well-known Struct types
 * itself, with camelCase field names (`stringValue`), whatever `keepCase` says.
 */
export interface WireStruct {
  fields?: Record<string, WireValue>;
}
export interface WireValue {
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: WireStruct;
  listValue?: { values?: WireValue[] };
}

/** The parts of `config.core.v3.Node` weft reads. */
export interface WireNode {
  id?: string;
  cluster?: string;
  metadata?: WireStruct;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  user_agent_name?: string;
}

export interface WireStatus {
  code?: number;
  message?: string;
}

/** `envoy.service.discovery.v3.DiscoveryRequest`. */
export interface DiscoveryRequestMessage {
  version_info?: string;
  node?: WireNode;
  resource_names: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: WireStatus;
}

/** `envoy.service.discovery.v3.DiscoveryResponse`. */
export interface DiscoveryResponseMessage {
  version_info?: string;
  resources: WireAny[];
  type_url?: string;
  nonce?: string;
  control_plane?: { identifier?: string };
}

/** `envoy.service.discovery.v3.DeltaDiscoveryRequest`. */
export interface DeltaDiscoveryRequestMessage {
  node?: WireNode;
  type_url?: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce?: string;
  error_detail?: WireStatus;
}

/** `envoy.service.discovery.v3.Resource` inside a delta response. */
export interface WireResource {
  name: string;
  version: string;
  resource: WireAny;
}

/** `envoy.service.discovery.v3.DeltaDiscoveryResponse`. */
export interface DeltaDiscoveryResponseMessage {
  system_version_info?: string;
  resources: WireResource[];
  type_url?: string;
  removed_resources: string[];
  nonce?: string;
}

/** Encodes a DiscoveryResponse without its nonce; `withNonce` completes it per client. */
export function encodeDiscoveryResponse(response: Omit<DiscoveryResponseMessage, 'nonce'>): Buffer {
  const bytes = DiscoveryResponse.encode(DiscoveryResponse.fromObject(response)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Appends the `nonce` field (5) to an encoded DiscoveryResponse (protobuf accepts fields in any order). */
export function withNonce(body: Buffer, nonce: string): Buffer {
  const writer = protobuf.Writer.create();
  writer.uint32((5 << 3) | 2).string(nonce);
  return Buffer.concat([body, writer.finish()]);
}

/** Serializes a message object; an already encoded message (a Buffer) passes through. */
function serializer(type: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    if (Buffer.isBuffer(value)) return value;
    const bytes = type.encode(type.fromObject(value as Record<string, unknown>)).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<T>(type: protobuf.Type): (bytes: Buffer) => T {
  return (bytes) => type.toObject(type.decode(bytes), WIRE_OPTIONS) as T;
}

const SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/**
 * `envoy.service.discovery.v3.AggregatedDiscoveryService` for grpc-js: `server.addService(adsService, …)`
 * or `grpc.makeGenericClientConstructor(adsService, 'AggregatedDiscoveryService')` for a client.
 */
export const adsService = {
  StreamAggregatedResources: {
    path: `/${SERVICE}/StreamAggregatedResources`,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializer(DiscoveryRequest),
    requestDeserialize: deserializer<DiscoveryRequestMessage>(DiscoveryRequest),
    responseSerialize: serializer(DiscoveryResponse),
    responseDeserialize: deserializer<DiscoveryResponseMessage>(DiscoveryResponse),
    originalName: 'streamAggregatedResources',
  },
  DeltaAggregatedResources: {
    path: `/${SERVICE}/DeltaAggregatedResources`,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializer(DeltaDiscoveryRequest),
    requestDeserialize: deserializer<DeltaDiscoveryRequestMessage>(DeltaDiscoveryRequest),
    responseSerialize: serializer(DeltaDiscoveryResponse),
    responseDeserialize: deserializer<DeltaDiscoveryResponseMessage>(DeltaDiscoveryResponse),
    originalName: 'deltaAggregatedResources',
  },
} satisfies ServiceDefinition;

/** Converts a decoded `google.protobuf.Struct` to plain JSON values. */
export function structToJson(struct: WireStruct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) out[key] = valueToJson(value);
  return out;
}

function valueToJson(value: WireValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return structToJson(value.structValue);
  if (value.listValue !== undefined) return (value.listValue.values ?? []).map(valueToJson);
  return null;
}

/** Converts plain JSON values to a `google.protobuf.Struct` object (for clients building a node). */
export function jsonToStruct(json: Record<string, unknown>): WireStruct {
  const fields: Record<string, WireValue> = {};
  for (const [key, value] of Object.entries(json)) {
    if (value !== undefined) fields[key] = jsonToValue(value);
  }
  return { fields };
}

function jsonToValue(value: unknown): WireValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  if (value && typeof value === 'object')
    return { structValue: jsonToStruct(value as Record<string, unknown>) };
  return { nullValue: 'NULL_VALUE' };
}
