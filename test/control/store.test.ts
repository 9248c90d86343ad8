// FileStore: durability across kill -9, torn tails, corruption, revisions, watch order and atomic commits.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Resource } from '../../src/config/resource.ts';
import { FileStore, type FileStoreConfig } from '../../src/control/store/file-store.ts';
import type { StoreEvent } from '../../src/control/store/store.ts';
import {
  DataDirInUseError,
  NotFoundError,
  RevisionCompactedError,
  StoreCorruptError,
} from '../../src/errors.ts';
import { setLogLevel } from '../../src/observe/log.ts';

setLogLevel('silent');

function thing(name: string, spec: Record<string, unknown> = {}, namespace = 'default'): Resource {
  return { apiVersion: 'test.weft.dev/v1', kind: 'Thing', metadata: { name, namespace }, spec };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(
  t: { after: (fn: () => Promise<void>) => void },
  config: FileStoreConfig,
): Promise<FileStore> {
  const store = await FileStore.open(config);
  t.after(() => store.close());
  return store;
}

test('put stamps resourceVersion, keeps creationTimestamp, bumps generation only on spec change', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, { dir });
  assert.equal(store.revision(), 0);
  const first = await store.commit([{ type: 'put', resource: thing('a', { x: 1 }) }]);
  assert.equal(first.revision, 1);
  const a1 = store.get({ kind: 'Thing', namespace: 'default', name: 'a' })!;
  assert.equal(a1.metadata.resourceVersion, '1');
  assert.equal(a1.metadata.generation, 1);
  assert.match(a1.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  const labelled = thing('a', { x: 1 });
  labelled.metadata.labels = { team: 'blue' };
  await store.commit([{ type: 'put', resource: labelled }]);
  const a2 = store.get({ kind: 'Thing', namespace: 'default', name: 'a' })!;
  assert.equal(a2.metadata.resourceVersion, '2');
  assert.equal(a2.metadata.generation, 1, 'labels alone do not bump generation');
  assert.equal(a2.metadata.creationTimestamp, a1.metadata.creationTimestamp);

  await store.commit([{ type: 'put', resource: thing('a', { x: 2 }) }]);
  const a3 = store.get({ kind: 'Thing', namespace: 'default', name: 'a' })!;
  assert.equal(a3.metadata.generation, 2);
  assert.equal(a3.metadata.resourceVersion, '3');
  assert.throws(() => {
    (a3.spec as { x: number }).x = 9;
  }, TypeError);
});

test('a multi-op commit is one revision, and a delete of a missing key applies nothing', async (t) => {
  const dir = await tempDir(t);
  let store = await FileStore.open({ dir });
  const { revision, results } = await store.commit([
    { type: 'put', resource: thing('a') },
    { type: 'put', resource: thing('b') },
    { type: 'put', resource: thing('c', {}, 'other') },
  ]);
  assert.equal(revision, 1);
  assert.deepEqual(
    results.map((e) => [e.type, e.resource.metadata.name, e.resource.metadata.resourceVersion]),
    [
      ['put', 'a', '1'],
      ['put', 'b', '1'],
      ['put', 'c', '1'],
    ],
  );
  await assert.rejects(
    store.commit([
      { type: 'put', resource: thing('d') },
      { type: 'delete', key: { kind: 'Thing', namespace: 'default', name: 'a' } },
      { type: 'delete', key: { kind: 'Thing', namespace: 'default', name: 'missing' } },
    ]),
    (err) => err instanceof NotFoundError && /Thing\/default\/missing/.test(err.message),
  );
  assert.equal(store.revision(), 1);
  assert.equal(store.get({ kind: 'Thing', namespace: 'default', name: 'd' }), undefined);
  assert.ok(store.get({ kind: 'Thing', namespace: 'default', name: 'a' }));
  await store.close();

  store = await FileStore.open({ dir });
  t.after(() => store.close());
  assert.equal(store.revision(), 1);
  assert.deepEqual(
    store.list().map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
    ['default/a', 'default/b', 'other/c'],
  );
  assert.deepEqual(
    store.list({ namespace: 'other' }).map((r) => r.metadata.name),
    ['c'],
  );
});

test('the revision never goes backwards across restarts, deletes and compactions', async (t) => {
  const dir = await tempDir(t);
  let store = await FileStore.open({ dir, compactEveryCommits: 3 });
  let last = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++) {
      const put = await store.commit([{ type: 'put', resource: thing(`r${i}`, { round }) }]);
      assert.ok(put.revision > last);
      last = put.revision;
    }
    for (let i = 0; i < 4; i++) {
      const del = await store.commit([
        { type: 'delete', key: { kind: 'Thing', namespace: 'default', name: `r${i}` } },
      ]);
      assert.ok(del.revision > last);
      last = del.revision;
    }
    assert.equal(store.list().length, 0);
    await store.close();
    store = await FileStore.open({ dir, compactEveryCommits: 3 });
    assert.equal(store.revision(), last, 'an empty store remembers its revision');
  }
  await store.close();
});

test('watch delivers one batch per commit in revision order, filtered, and replays from a revision', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, { dir, historyLimit: 5 });
  const seen: StoreEvent[][] = [];
  const onlyOther: StoreEvent[][] = [];
  const stop = store.watch((events) => seen.push(events));
  store.watch((events) => onlyOther.push(events), { namespace: 'other' });

  const commits = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      store.commit([
        { type: 'put', resource: thing(`n${i}`, { i }) },
        { type: 'put', resource: thing(`o${i}`, { i }, i % 2 === 0 ? 'other' : 'default') },
      ]),
    ),
  );
  assert.deepEqual(
    commits.map((c) => c.revision),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    seen.map((batch) => batch[0].revision),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  assert.ok(seen.every((batch) => batch.length === 2 && batch[0].revision === batch[1].revision));
  assert.equal(onlyOther.length, 10, 'batches with no match are not delivered');
  assert.ok(
    onlyOther.every((batch) => batch.length === 1 && batch[0].resource.metadata.namespace === 'other'),
  );

  stop();
  await store.commit([{ type: 'delete', key: { kind: 'Thing', namespace: 'default', name: 'n0' } }]);
  assert.equal(seen.length, 20, 'a stopped watch gets nothing more');

  const replayed: number[] = [];
  store.watch((events) => replayed.push(events[0].revision), { fromRevision: 18 });
  assert.deepEqual(replayed, [19, 20, 21]);
  assert.throws(() => store.watch(() => {}, { fromRevision: 3 }), RevisionCompactedError);
});

test('a torn tail record is dropped on open and the log stays usable', async (t) => {
  const dir = await tempDir(t);
  let store = await FileStore.open({ dir });
  for (let i = 1; i <= 3; i++) await store.commit([{ type: 'put', resource: thing(`t${i}`) }]);
  await store.close();
  const wal = join(dir, 'wal.log');
  const size = (await stat(wal)).size;
  await truncate(wal, size - 5);

  store = await FileStore.open({ dir });
  assert.equal(store.revision(), 2);
  assert.deepEqual(
    store.list().map((r) => r.metadata.name),
    ['t1', 't2'],
  );
  const next = await store.commit([{ type: 'put', resource: thing('t4') }]);
  assert.equal(next.revision, 3);
  await store.close();

  // A zero-filled tail (file size extended, data never written) is torn too.
  const handle = await open(wal, 'a');
  await handle.write(Buffer.alloc(300));
  await handle.close();
  store = await FileStore.open({ dir });
  t.after(() => store.close());
  assert.equal(store.revision(), 3);
  assert.deepEqual(
    store.list().map((r) => r.metadata.name),
    ['t1', 't2', 't4'],
  );
});

test('damage before the last record is StoreCorruptError naming the file', async (t) => {
  const dir = await tempDir(t);
  const store = await FileStore.open({ dir });
  for (let i = 1; i <= 3; i++) await store.commit([{ type: 'put', resource: thing(`c${i}`) }]);
  await store.close();
  const wal = join(dir, 'wal.log');
  const bytes = await readFile(wal);
  bytes[20] ^= 0xff; // inside the first record's payload
  await writeFile(wal, bytes);
  await assert.rejects(
    FileStore.open({ dir }),
    (err) => err instanceof StoreCorruptError && err.message.includes(wal) && /checksum/.test(err.message),
  );
  // The failed open released its lock: a fixed file opens again.
  bytes[20] ^= 0xff;
  await writeFile(wal, bytes);
  const again = await openStore(t, { dir });
  assert.equal(again.revision(), 3);
});

/** Byte offset of each record in a log (each starts with its u32 BE payload length). */
function recordOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = 0; at < bytes.length; at += 8 + bytes.readUInt32BE(at)) offsets.push(at);
  return offsets;
}

test('a bad length field in record 50 of 100 stops the open, drops nothing and leaves the file alone', async (t) => {
  const dir = await tempDir(t);
  const store = await FileStore.open({ dir });
  for (let i = 1; i <= 100; i++) await store.commit([{ type: 'put', resource: thing(`r${i}`) }]);
  await store.close();
  const wal = join(dir, 'wal.log');
  const good = await readFile(wal);
  const at = recordOffsets(good)[49];
  for (const length of [good.readUInt32BE(at) + 1_000_000, good.readUInt32BE(at) - 3, 0xffff_ffff]) {
    const damaged = Buffer.from(good);
    damaged.writeUInt32BE(length, at);
    await writeFile(wal, damaged);
    await assert.rejects(FileStore.open({ dir }), (err) => {
      assert.ok(err instanceof StoreCorruptError, `length ${length}: ${err}`);
      assert.equal(err.code, 'WEFT_STORE_CORRUPT');
      assert.ok(err.message.includes(wal) && err.message.includes(`byte ${at}`), err.message);
      return true;
    });
    assert.deepEqual(await readFile(wal), damaged, `length ${length}: the log was changed`);
  }
  // The same bad length on the LAST record is a torn write: dropped, the 99 before it kept.
  const last = recordOffsets(good)[99];
  const torn = Buffer.from(good);
  torn.writeUInt32BE(good.readUInt32BE(last) + 1_000_000, last);
  await writeFile(wal, torn);
  const reopened = await openStore(t, { dir });
  assert.equal(reopened.revision(), 99);
  assert.equal((await stat(wal)).size, last);
});

test('a damaged snapshot is StoreCorruptError naming the snapshot', async (t) => {
  const dir = await tempDir(t);
  const store = await FileStore.open({ dir });
  await store.commit([{ type: 'put', resource: thing('s') }]);
  await store.compact();
  await store.close();
  const snapshot = join(dir, 'snapshot.rec');
  const size = (await stat(snapshot)).size;
  await truncate(snapshot, size - 1);
  await assert.rejects(
    FileStore.open({ dir }),
    (err) => err instanceof StoreCorruptError && err.message.includes(snapshot),
  );
});

test('log records already in the snapshot (crash during compaction) are skipped', async (t) => {
  const dir = await tempDir(t);
  const store = await FileStore.open({ dir });
  await store.commit([{ type: 'put', resource: thing('k1', { v: 1 }) }]);
  await store.commit([{ type: 'put', resource: thing('k2') }]);
  await copyFile(join(dir, 'wal.log'), join(dir, 'wal.before'));
  await store.commit([{ type: 'delete', key: { kind: 'Thing', namespace: 'default', name: 'k2' } }]);
  await store.compact();
  await store.close();
  // The old log is back next to a snapshot at revision 3, as if the crash hit between the renames.
  await copyFile(join(dir, 'wal.before'), join(dir, 'wal.log'));
  const reopened = await openStore(t, { dir });
  assert.equal(reopened.revision(), 3);
  assert.deepEqual(
    reopened.list().map((r) => r.metadata.name),
    ['k1'],
  );
  assert.equal((await reopened.commit([{ type: 'put', resource: thing('k3') }])).revision, 4);
});

test('a second open of the same directory is refused while the first is live', async (t) => {
  const dir = await tempDir(t);
  await openStore(t, { dir });
  await assert.rejects(FileStore.open({ dir }), DataDirInUseError);
});

/** Runs a child that commits in a loop and prints `ack <revision> <i>` after each commit resolves. */
function writerScript(): string {
  return `
    const [, url, dir, start] = process.argv;
    const { FileStore } = await import(url);
    const { setLogLevel } = await import(new URL('../../observe/log.ts', url));
    setLogLevel('silent');
    const store = await FileStore.open({ dir, compactEveryCommits: 16 });
    for (let i = Number(start); ; i++) {
      const resource = { apiVersion: 'test.weft.dev/v1', kind: 'Thing', metadata: { name: 'r' + (i % 7), namespace: 'default' }, spec: { i } };
      const { revision } = await store.commit([{ type: 'put', resource }]);
      process.stdout.write('ack ' + revision + ' ' + i + '\\n');
    }
  `;
}

async function killWriterAfter(
  dir: string,
  start: number,
  acks: number,
): Promise<{ revision: number; i: number }[]> {
  const url = new URL('../../src/control/store/file-store.ts', import.meta.url).href;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', writerScript(), url, dir, String(start)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const seen: { revision: number; i: number }[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  let buffer = '';
  await new Promise<void>((resolve, reject) => {
    child.on('exit', () => reject(new Error(`writer exited early: ${stderr}`)));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffer += d;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const [, revision, i] = line.split(' ');
        seen.push({ revision: Number(revision), i: Number(i) });
      }
      if (seen.length >= acks) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  assert.equal(await exited, 'SIGKILL');
  return seen;
}

test('every acknowledged commit survives kill -9 of the writing process', async (t) => {
  const dir = await tempDir(t);
  let start = 0;
  let lastRevision = 0;
  for (let round = 0; round < 3; round++) {
    const acks = await killWriterAfter(dir, start, 25 + round * 10);
    const last = acks.at(-1)!;
    assert.ok(last.revision > lastRevision);
    const store = await FileStore.open({ dir });
    assert.ok(
      store.revision() >= last.revision,
      `revision ${store.revision()} < acknowledged ${last.revision}`,
    );
    // The newest acknowledged write of each resource (or a later unacknowledged one) is there.
    const newest = new Map<string, number>();
    for (const ack of acks) newest.set(`r${ack.i % 7}`, ack.i);
    for (const [name, i] of newest) {
      const resource = store.get({ kind: 'Thing', namespace: 'default', name });
      assert.ok(resource, `${name} lost`);
      assert.ok((resource.spec.i as number) >= i, `${name} has i=${resource.spec.i}, acknowledged ${i}`);
    }
    lastRevision = store.revision();
    start = Math.max(...store.list().map((r) => r.spec.i as number)) + 1;
    await store.close();
  }
});
