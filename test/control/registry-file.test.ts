// FileBackedRegistry: the registry written on every change and restored on open, each workload in its grace period.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileBackedRegistry } from '../../src/control/store/registry-file.ts';
import type { Workload } from '../../src/model/types.ts';
import { setLogLevel } from '../../src/observe/log.ts';
import { eventuallyTrue } from '../helpers/eventually.ts';

setLogLevel('silent');

function workload(uid: string): Workload {
  return {
    uid,
    name: uid,
    namespace: 'default',
    address: '127.0.0.1',
    labels: { app: 'reviews', version: 'v2' },
    serviceAccount: 'reviews',
    ports: { http: 8080 },
    weight: 1,
    sidecar: { inboundPort: 15006 },
    health: 'HEALTHY',
    source: 'proxy',
  };
}

test('a reopened registry holds the last run’s workloads until they re-join or their grace period ends', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-registry-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await FileBackedRegistry.open(dir, 10_000);
  first.join(workload('proxy~a'));
  first.join(workload('proxy~b'));
  first.close();

  const second = await FileBackedRegistry.open(dir, 300);
  t.after(() => second.close());
  assert.deepEqual(
    second.list().map((w) => w.uid),
    ['proxy~a', 'proxy~b'],
    'restored before any proxy reconnects',
  );
  second.join(workload('proxy~a'));
  await eventuallyTrue(
    'proxy~b, which never re-joined, to be dropped',
    () => second.list().length === 1,
    5000,
    50,
  );
  assert.equal(second.list()[0].uid, 'proxy~a', 'a re-joined workload stays past the grace period');
  await eventuallyTrue(
    'the file to follow the removal',
    async () => JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8')).workloads.length === 1,
    5000,
    50,
  );
});

test('an unreadable registry file is an empty registry, not a failed start', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-registry-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'registry.json'), '{"format":"weft-registry/1","workloads":[{"uid":');
  const registry = await FileBackedRegistry.open(dir, 1000);
  t.after(() => registry.close());
  assert.deepEqual(registry.list(), []);
});
