// Weft's compact Envoy wire schema: message fields and enum names by full name, parsed per type on first use.
//
// A sidecar decodes xDS with it instead of protobufjs reflection: the protobufjs root of the Envoy
// protos costs a process ~5 MB of heap (its Type and Field objects and the code it generates), the
// schema's text ~0.2 MB, and a type's table is built only when a message of that type arrives.
import { createRequire } from 'node:module';
import { cachedOutput } from '../cached-output.ts';
import { protoSourceVersions } from '../proto-files.ts';

const require = createRequire(import.meta.url);

/** How a field's values are written on the wire and read back. */
export type ScalarKind =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

/** One field of a message. */
export interface WireField {
  id: number;
  /** The name decoded objects use (the .proto's, snake_case; protobufjs's camelCase for google.protobuf.Struct). */
  name: string;
  /** A scalar kind, 'enum' or 'message'. */
  kind: ScalarKind | 'enum' | 'message';
  /** Full name of the message or enum type. */
  typeName: string;
  repeated: boolean;
  /** A map field: `keyKind` keys to values of `kind`. */
  map: boolean;
  keyKind: ScalarKind;
  /** Repeated scalars are written packed. */
  packed: boolean;
}

/** One message type. */
export interface WireType {
  fullName: string;
  /** Sorted by id (the order decoded objects list them in). */
  fields: WireField[];
  byId: Map<number, WireField>;
}

/** An enum: name by number. */
export type WireEnum = Map<number, string>;

const SCALARS = new Set<string>([
  'double',
  'float',
  'int32',
  'uint32',
  'sint32',
  'fixed32',
  'sfixed32',
  'int64',
  'uint64',
  'sint64',
  'fixed64',
  'sfixed64',
  'bool',
  'string',
  'bytes',
]);

/** Bump when the compact form changes: a cached schema of another format is not reused. */
const FORMAT = 'wire-schema 1';

let raw: { types: Record<string, string>; enums: Record<string, string> } | undefined;
const types = new Map<string, WireType>();
const enums = new Map<string, WireEnum>();

function schema(): NonNullable<typeof raw> {
  raw ??= JSON.parse(
    cachedOutput({
      name: 'envoy-wire-schema',
      key: `${FORMAT}; ${protoSourceVersions()}`,
      script: new URL('./schema-source.ts', import.meta.url),
      // Only when a child process cannot run: builds it here, from the protobufjs root.
      inProcess: () => (require('./schema-source.ts') as typeof import('./schema-source.ts')).schemaJson(),
    }),
  );
  return raw!;
}

function parseField(entry: string, s: NonNullable<typeof raw>): WireField {
  const [id, name, type, flags, keyType] = entry.split(',');
  const kind = SCALARS.has(type) ? (type as ScalarKind) : type in s.enums ? 'enum' : 'message';
  return {
    id: Number(id),
    name,
    kind,
    typeName: type,
    repeated: flags.includes('r'),
    map: flags.includes('m'),
    keyKind: (keyType ?? 'string') as ScalarKind,
    packed: !flags.includes('u'),
  };
}

/** The message type of this full name (no leading dot), or undefined when the schema has none. */
export function wireType(fullName: string): WireType | undefined {
  let type = types.get(fullName);
  if (type) return type;
  const s = schema();
  const text = s.types[fullName];
  if (text === undefined) return undefined;
  const fields = text === '' ? [] : text.split(';').map((e) => parseField(e, s));
  type = { fullName, fields, byId: new Map(fields.map((f) => [f.id, f])) };
  types.set(fullName, type);
  return type;
}

/** The enum of this full name: its value names by number. */
export function wireEnum(fullName: string): WireEnum {
  let e = enums.get(fullName);
  if (e) return e;
  const text = schema().enums[fullName] ?? '';
  e = new Map(
    text
      .split(';')
      .filter((v) => v !== '')
      .map((v) => {
        const comma = v.indexOf(',');
        return [Number(v.slice(0, comma)), v.slice(comma + 1)];
      }),
  );
  enums.set(fullName, e);
  return e;
}
