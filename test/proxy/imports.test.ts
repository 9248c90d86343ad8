// The proxy's module graph: no import cycles (codecs, the stream, the router and its attempts import one way).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importCycles, importGraph } from '../helpers/import-graph.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('no import cycle in src/proxy (listener/detect, the connection manager, codecs, stream, router)', () => {
  const graph = importGraph(join(ROOT, 'src'), ROOT);
  const cycles = importCycles(graph).filter((c) => c.some((f) => f.startsWith('src/proxy/')));
  assert.deepEqual(cycles, []);
});
