// Generated x-request-id values: RFC 9562 version-4 UUIDs, distinct across pool refills.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestId } from '../../src/proxy/http/request-id.ts';

test('request ids are lowercase version-4 UUIDs and do not repeat across random-pool refills', () => {
  const seen = new Set<string>();
  const nibbles = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const id = requestId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
    nibbles.add(id[0]);
  }
  assert.equal(seen.size, 1000);
  // Random, not a counter: the first hex digit takes many values.
  assert.ok(nibbles.size >= 12, `first digits seen: ${[...nibbles].join('')}`);
});
