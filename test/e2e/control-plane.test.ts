// End to end: `weft control-plane` as a real process, driven by `weft apply/get/delete`, killed with -9 and restarted.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileStore } from '../../src/control/store/file-store.ts';
import { runCli } from '../helpers/cli.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:(\d+))/;

const TWO_DOCS = `# reviews: a route and its subsets
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
`;

const MALFORMED = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: details
spec:
  hosts: [details
`;

function startControlPlane(dataDir: string): Promise<WeftProcess> {
  return startWeft(['control-plane', '--data-dir', dataDir, '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'], {
    ready: READY,
  });
}

test('apply, get, kill -9, restart, get, delete through the CLI against a real control plane', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-cp-'));
  const dataDir = join(dir, 'data');
  const processes: WeftProcess[] = [];
  t.after(async () => {
    for (const p of processes) await p.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'reviews.yaml');
  await writeFile(file, TWO_DOCS);
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, MALFORMED);

  let cp = await startControlPlane(dataDir);
  processes.push(cp);
  let server = cp.ready[1];
  const ready = await fetch(`${server}/ready`);
  assert.equal(ready.status, 200);

  const applied = await runCli(['apply', '-f', file, '--server', server]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(
    applied.stdout,
    'virtualservice.networking.istio.io/reviews created\ndestinationrule.networking.istio.io/reviews created\n',
  );
  // Right after apply returned: no clean shutdown, no chance to flush anything.
  cp.child.kill('SIGKILL');
  assert.equal((await cp.exited).signal, 'SIGKILL');

  cp = await startControlPlane(dataDir);
  processes.push(cp);
  server = cp.ready[1];
  const second = await runCli([
    'control-plane',
    '--data-dir',
    dataDir,
    '--api',
    '127.0.0.1:0',
    '--xds',
    '127.0.0.1:0',
  ]);
  assert.equal(second.code, 1, 'a second control plane on the same data dir is refused');
  assert.match(second.stderr, /held by running process \d+/);

  const yaml = await runCli(['get', 'vs', '-o', 'yaml', '--server', server]);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.match(yaml.stdout, /kind: VirtualService/);
  assert.match(yaml.stdout, /name: reviews/);
  assert.match(yaml.stdout, /resourceVersion: "1"/);

  const json = await runCli(['get', 'destinationrule', 'reviews', '-o', 'json'], {
    env: { WEFT_SERVER: server },
  });
  assert.equal(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout).metadata.resourceVersion, '1');

  const table = await runCli(['get', 'virtualservices', '--server', server]);
  assert.equal(table.code, 0, table.stderr);
  const [header, row] = table.stdout.trim().split('\n');
  assert.match(header, /^NAME\s+NAMESPACE\s+REVISION\s+AGE$/);
  assert.match(row, /^reviews\s+default\s+1\s+\d+s$/);

  const malformed = await runCli(['apply', '-f', bad, '--server', server]);
  assert.equal(malformed.code, 1);
  assert.match(malformed.stderr, /bad\.yaml:\d+/);
  assert.doesNotMatch(malformed.stderr, /at .*\.ts:\d+/, 'no stack trace');
  const unchanged = await runCli(['get', 'vs', '-A', '-o', 'json', '--server', server]);
  assert.deepEqual(
    JSON.parse(unchanged.stdout).items.map((r: { metadata: { name: string } }) => r.metadata.name),
    ['reviews'],
    'the valid first document of the malformed file was not applied',
  );

  const deleted = await runCli(['delete', 'vs', 'reviews', '--server', server]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal(deleted.stdout, 'virtualservice.networking.istio.io "reviews" deleted\n');
  const partly = await runCli(['delete', '-f', file, '--server', server]);
  assert.equal(partly.code, 1, 'the VirtualService is gone, so the whole delete fails');
  assert.match(partly.stderr, /VirtualService default\/reviews/);
  const dr = await runCli(['get', 'dr', 'reviews', '--server', server]);
  assert.equal(dr.code, 0, 'nothing was deleted by the failed delete');

  const none = await runCli(['get', 'vs', 'reviews', '--server', server]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /not found/);

  const stopped = await cp.stop('SIGTERM');
  assert.equal(stopped.code, 0, `clean shutdown: ${cp.output().stderr}`);
});

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('commands against an unreachable server exit 1 and say how to start one', async () => {
  const port = await closedPort();
  const r = await runCli(['get', 'vs', '--server', `http://127.0.0.1:${port}`]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\).*weft control-plane/,
  );
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('bad control-plane flags exit 1 with one line', async () => {
  const r = await runCli(['control-plane', '--api', 'localhost']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--api "localhost" is not HOST:PORT/);
});

test('a control plane whose log is damaged mid-file stops with WEFT_STORE_CORRUPT and leaves the file alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-e2e-cp-corrupt-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const store = await FileStore.open({ dir: join(dataDir, 'store') });
  for (let i = 1; i <= 3; i++) {
    const metadata = { name: `c${i}`, namespace: 'default' };
    await store.commit([
      { type: 'put', resource: { apiVersion: 'test.weft.dev/v1', kind: 'Thing', metadata, spec: {} } },
    ]);
  }
  await store.close();
  const wal = join(dataDir, 'store', 'wal.log');
  const damaged = await readFile(wal);
  damaged.writeUInt32BE(damaged.readUInt32BE(0) + 100_000, 0); // the first record's length field
  await writeFile(wal, damaged);

  const r = await runCli([
    'control-plane',
    '--data-dir',
    dataDir,
    '--api',
    '127.0.0.1:0',
    '--xds',
    '127.0.0.1:0',
  ]);
  assert.notEqual(r.code, 0, 'the control plane refused to start');
  assert.match(r.stderr, /WEFT_STORE_CORRUPT/);
  assert.match(r.stderr, /damaged length field/);
  assert.deepEqual(await readFile(wal), damaged, 'the damaged log is left as it was');
});
