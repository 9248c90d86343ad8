// The ADS wire messages (DiscoveryRequest/Response, delta forms) and the AggregatedDiscoveryService definition for grpc-js and weft's own client.
import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { root } from './protos.ts';
import type { WireStruct } from './struct.ts';

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

/** The parts of `config.core.v3.Node` weft reads. */
export interface WireNode {
  id?: string;
  cluster?: string;
  metadata?: WireStruct;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  /** The xDS client's name and version (`gRPC Node Pure JS` 1.14.1, `gRPC C-core linux Python` `C-core 29.0.0 Python 1.51.1`...). */
  user_agent_name?: string;
  user_agent_version?: string;
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
  /**
   * The encoded `resource_names` entries, as received (not a protobuf field). Envoy repeats its
   * whole subscription in every ACK; a server compares these bytes with the last ones instead of
   * thousands of names.
   */
  resource_names_bytes?: Buffer;
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

/** One Any encoded as a DiscoveryResponse `resources` entry (field 2): encode once, join into many responses. */
export function encodeResourceField(any: WireAny): Buffer {
  const writer = protobuf.Writer.create();
  writer.uint32((2 << 3) | 2).fork();
  writer.uint32((1 << 3) | 2).string(any.type_url);
  writer.uint32((2 << 3) | 2).bytes(any.value);
  writer.ldelim();
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A DiscoveryResponse from already encoded `resources` entries (`encodeResourceField`): the same
 * bytes as `encodeDiscoveryResponse`, without re-encoding them. With `nonce`, its field comes last
 * (see `withNonce`), so the bytes without it are the response without a nonce.
 */
export function joinDiscoveryResponse(
  version: string,
  typeUrl: string,
  fields: readonly Buffer[],
  nonce?: string,
): Buffer {
  const head = protobuf.Writer.create()
    .uint32((1 << 3) | 2)
    .string(version)
    .finish();
  const tail = protobuf.Writer.create()
    .uint32((4 << 3) | 2)
    .string(typeUrl)
    .finish();
  return Buffer.concat(
    nonce === undefined ? [head, ...fields, tail] : [head, ...fields, tail, nonceField(nonce)],
  );
}

/** The `nonce` field (5) of a DiscoveryResponse, encoded. */
export function nonceField(nonce: string): Uint8Array {
  return protobuf.Writer.create()
    .uint32((5 << 3) | 2)
    .string(nonce)
    .finish();
}

/** Appends the `nonce` field (5) to an encoded DiscoveryResponse (protobuf accepts fields in any order). */
export function withNonce(body: Buffer, nonce: string): Buffer {
  return Buffer.concat([body, nonceField(nonce)]);
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

/** DiscoveryRequest field 3: `resource_names`, and the tag each entry starts with (field 3, length-delimited). */
const RESOURCE_NAMES_FIELD = 3;
const RESOURCE_NAMES_TAG = (RESOURCE_NAMES_FIELD << 3) | 2;

/** The one of `known` (encoded `resource_names` runs) that `bytes` holds at `at` as a whole run of entries. */
function knownRun(bytes: Buffer, at: number, known: readonly (Buffer | undefined)[]): Buffer | undefined {
  for (const run of known) {
    if (!run || run.length === 0 || at + run.length > bytes.length) continue;
    const end = at + run.length;
    if (
      (end === bytes.length || bytes[end] !== RESOURCE_NAMES_TAG) &&
      bytes.compare(run, 0, run.length, at, end) === 0
    )
      return run;
  }
  return undefined;
}

/** The names in runs of encoded `resource_names` entries. */
function decodeNames(bytes: Buffer, runs: readonly [number, number][]): string[] {
  const names: string[] = [];
  for (const [from, to] of runs) {
    const reader = protobuf.Reader.create(bytes.subarray(from, to));
    while (reader.pos < reader.len) {
      reader.uint32();
      names.push(reader.string());
    }
  }
  return names;
}

/**
 * Decodes a DiscoveryRequest with its `resource_names` read only when asked for: the entries'
 * bytes are kept in `resource_names_bytes`, the rest is decoded as usual. `known`: runs of
 * encoded names the client sent before (its subscriptions); one found whole in the request is
 * skipped with one comparison and becomes `resource_names_bytes` (the same Buffer), so an ACK
 * repeating thousands of names is neither scanned name by name nor copied.
 * `resource_names_bytes` (when not a known run) and `resource_names` read `bytes`: copy the
 * former to keep it past a reuse of `bytes`, and read the latter before.
 */
export function decodeDiscoveryRequest(
  bytes: Buffer,
  known: readonly (Buffer | undefined)[] = [],
): DiscoveryRequestMessage {
  const reader = protobuf.Reader.create(bytes);
  const runs: [number, number][] = [];
  const rest: Buffer[] = [];
  let restFrom = 0;
  let matched: Buffer | undefined;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    if (tag >>> 3 !== RESOURCE_NAMES_FIELD) {
      reader.skipType(tag & 7);
      continue;
    }
    const run = tag === RESOURCE_NAMES_TAG && runs.length === 0 ? knownRun(bytes, start, known) : undefined;
    if (run) reader.pos = start + run.length;
    else reader.skipType(tag & 7);
    matched = run;
    if (start > restFrom) rest.push(bytes.subarray(restFrom, start));
    restFrom = reader.pos;
    const last = runs.at(-1);
    if (last && last[1] === start) last[1] = reader.pos;
    else runs.push([start, reader.pos]);
  }
  if (runs.length === 0) return deserializer<DiscoveryRequestMessage>(DiscoveryRequest)(bytes);
  if (restFrom < bytes.length) rest.push(bytes.subarray(restFrom));
  const message = deserializer<DiscoveryRequestMessage>(DiscoveryRequest)(
    rest.length === 1 ? rest[0] : Buffer.concat(rest),
  );
  message.resource_names_bytes =
    matched && runs.length === 1 && runs[0][1] - runs[0][0] === matched.length
      ? matched
      : runs.length === 1
        ? bytes.subarray(runs[0][0], runs[0][1])
        : Buffer.concat(runs.map(([from, to]) => bytes.subarray(from, to)));
  let decoded: string[] | undefined;
  Object.defineProperty(message, 'resource_names', {
    enumerable: true,
    get: () => {
      decoded ??= decodeNames(bytes, runs);
      return decoded;
    },
  });
  return message;
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
    requestDeserialize: decodeDiscoveryRequest,
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
