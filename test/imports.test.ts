// The import rules of the layout (docs/architecture.md): the proxy and the shared xDS layer import nothing from the control plane, model/ nothing outside itself, and no cycles where they were broken.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importCycles, importGraph, importSpecifiers } from './helpers/import-graph.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const graph = importGraph(join(ROOT, 'src'), ROOT);

function importsOf(folder: string): [string, string][] {
  return [...graph]
    .filter(([file]) => file.startsWith(folder))
    .flatMap(([file, targets]) => targets.map((t): [string, string] => [file, t]));
}

test('no proxy module imports from src/control (the wire layer is src/xds)', () => {
  const bad = importsOf('src/proxy/').filter(([, target]) => target.startsWith('src/control/'));
  assert.deepEqual(bad, []);
});

test('src/xds imports only itself (both processes load it)', () => {
  const bad = importsOf('src/xds/').filter(([, target]) => !target.startsWith('src/xds/'));
  assert.deepEqual(bad, []);
});

test('src/model imports only itself: config/ compiles into it, generators read it (the one-way pipeline)', () => {
  const bad = importsOf('src/model/').filter(([, target]) => !target.startsWith('src/model/'));
  assert.deepEqual(bad, []);
});

test('no import cycle in src/xds or src/control/xds', () => {
  const cycles = importCycles(graph).filter((c) =>
    c.some((f) => f.startsWith('src/xds/') || f.startsWith('src/control/xds/')),
  );
  assert.deepEqual(cycles, []);
});

test('the scanner sees every import form and reports a cycle', () => {
  assert.deepEqual(
    importSpecifiers(
      `import a from './a.ts';\nimport type { B } from "./b.ts";\nexport { c } from './c.ts';\nimport './d.ts';\nawait import('./e.ts');`,
    ),
    ['./a.ts', './b.ts', './c.ts', './d.ts', './e.ts'],
  );
  const dir = mkdtempSync(join(tmpdir(), 'weft-imports-'));
  try {
    mkdirSync(join(dir, 'x'));
    writeFileSync(join(dir, 'x', 'one.ts'), "import { two } from './two.ts';\n");
    writeFileSync(join(dir, 'x', 'two.ts'), "import { three } from '../three.ts';\n");
    writeFileSync(join(dir, 'three.ts'), "export { one } from './x/one.ts';\n");
    writeFileSync(join(dir, 'alone.ts'), "import { three } from './three.ts';\n");
    assert.deepEqual(importCycles(importGraph(dir)), [['three.ts', 'x/one.ts', 'x/two.ts']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
