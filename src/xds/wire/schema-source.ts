// Writes the protobufjs Envoy root as weft's compact wire schema; run as a script it prints it (see schema.ts).
import protobuf from 'protobufjs';
import { root } from '../protos.ts';

/** The compact schema: per message its fields, per enum its names by number (schema.ts reads it). */
export interface SchemaJson {
  /** Full name (no leading dot) → `id,name,type,flags[,keyType]` per field (flags: m map, r repeated, u not packed), `;`-separated, sorted by id. */
  types: Record<string, string>;
  /** Full name → `number,name` per value, `;`-separated (the name protobufjs gives that number). */
  enums: Record<string, string>;
}

const fullName = (o: protobuf.ReflectionObject) => o.fullName.slice(1);

function fieldEntry(field: protobuf.Field): string {
  field.resolve();
  const type = field.resolvedType ? fullName(field.resolvedType) : field.type;
  let flags = '';
  if (field.map) flags += 'm';
  else if (field.repeated) flags += 'r';
  // proto3 packs repeated scalars unless the field says otherwise.
  if (!field.packed) flags += 'u';
  const entry = `${field.id},${field.name},${type},${flags}`;
  return field instanceof protobuf.MapField ? `${entry},${field.keyType}` : entry;
}

function collect(ns: protobuf.NamespaceBase, out: SchemaJson): void {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) {
      out.types[fullName(nested)] = nested.fieldsArray
        .slice()
        .sort((a, b) => a.id - b.id)
        .map(fieldEntry)
        .join(';');
    } else if (nested instanceof protobuf.Enum) {
      out.enums[fullName(nested)] = Object.entries(nested.valuesById)
        .map(([id, name]) => `${id},${name}`)
        .join(';');
    }
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) collect(nested, out);
  }
}

/** Every message and enum of the Envoy root, in the compact form. */
export function schemaJson(): string {
  const out: SchemaJson = { types: {}, enums: {} };
  collect(root, out);
  return JSON.stringify(out);
}

if (import.meta.main) process.stdout.write(schemaJson());
