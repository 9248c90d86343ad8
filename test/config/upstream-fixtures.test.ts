// Every upstream-style fixture (test/fixtures/upstream) is accepted; the ones with deprecated or unused parts say so.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseResources } from '../../src/config/parse.ts';

const ROOT = fileURLToPath(new URL('../fixtures/upstream/', import.meta.url));

function fixtures(): string[] {
  return readdirSync(ROOT, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

test('every upstream-style fixture is accepted', () => {
  const warned: Record<string, number> = {};
  for (const file of fixtures()) {
    const docs = parseResources(readFileSync(join(ROOT, file), 'utf8'), file);
    assert.ok(docs.length > 0, file);
    const count = docs.reduce((n, d) => n + d.warnings.length, 0);
    if (count > 0) warned[file] = count;
  }
  assert.deepEqual(warned, {
    'gateway-api/gateway-with-class.yaml': 2,
    'gateway-api/no-parent-refs.yaml': 1,
    'istio/deprecated-fields.yaml': 3,
    'istio/relative-weights.yaml': 1,
  });
});
