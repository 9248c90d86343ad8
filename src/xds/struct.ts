// `google.protobuf.Struct` as protobufjs decodes it, and conversions to and from plain JSON values.

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
