// The weft command's cache of type-stripped modules: filled on first use, same lines as the .ts source.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
// @ts-expect-error: plain JavaScript module without types (it runs before TypeScript support).
import { cacheFile } from '../bin/strip-cache.js';

const run = promisify(execFile);

test('weft serves its modules from the stripped cache, line for line the .ts source', async () => {
  const bin = fileURLToPath(new URL('../bin/weft.js', import.meta.url));
  const r = await run(process.execPath, [bin, 'version']);
  assert.match(r.stdout, /^weft /);
  assert.equal(r.stderr, '');
  for (const rel of ['../src/cli/main.ts', '../src/cli/version.ts']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    const source = readFileSync(path, 'utf8');
    const cached = readFileSync((cacheFile as (p: string) => string)(path), 'utf8');
    assert.equal(cached, stripTypeScriptTypes(source, { mode: 'strip' }));
    assert.equal(cached.split('\n').length, source.split('\n').length);
  }
});
