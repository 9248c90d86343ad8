// Converts decoded xDS resources from the .proto's snake_case field names to camelCase, recursively.

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;

function toCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Returns a copy of `value` whose object keys are camelCase. Only keys that look like proto
 * field names change; map keys such as `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`
 * and `@type` are kept as they are.
 */
export function camelize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelize);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value as Record<string, unknown>);
  // A google.protobuf.Struct ({fields: {...}}): its keys are data (JSON log keys, metadata), not field names.
  if (entries.length === 1 && entries[0][0] === 'fields' && isMap(entries[0][1])) {
    const fields: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(entries[0][1])) fields[key] = camelize(v);
    return { fields };
  }
  for (const [key, v] of entries) {
    out[SNAKE.test(key) ? toCamel(key) : key] = camelize(v);
  }
  return out;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
