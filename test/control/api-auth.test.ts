// The API's write gate: writes need the operator token when the gate says so; reads never do.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiServer } from '../../src/control/api/server.ts';
import { FileStore } from '../../src/control/store/file-store.ts';
import { setLogLevel } from '../../src/observe/log.ts';

setLogLevel('silent');

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews } }] }]
`;

test('writes answer 401 unless the gate allows them; reads and public write paths pass', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weft-auth-'));
  const store = await FileStore.open({ dir: join(dataDir, 'store') });
  const api = new ApiServer(
    { host: '127.0.0.1', port: 0 },
    {
      store,
      bootstrap: () => undefined,
      authorizeWrite: (req) =>
        req.headers.authorization === undefined
          ? 'missing-token'
          : req.headers.authorization === 'Bearer right'
            ? 'allowed'
            : 'invalid-token',
      publicWritePaths: ['/api/v1/certificates'],
      routes: [{ path: '/api/v1/certificates', methods: { POST: ({ res }) => void res.end('issued') } }],
    },
  );
  const port = await api.listen();
  api.setState('ready');
  t.after(async () => {
    await api.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${port}`;
  const apply = (authorization?: string) =>
    fetch(`${base}/api/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ sources: [{ file: 'vs.yaml', text: VS }] }),
    });

  const missing = await apply();
  assert.equal(missing.status, 401);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'WEFT_UNAUTHORIZED');
  assert.equal((await apply('Bearer wrong')).status, 401);
  assert.equal(store.list().length, 0, 'a refused write changes nothing');

  const allowed = await apply('Bearer right');
  assert.equal(allowed.status, 200);
  assert.equal(store.list().length, 1);

  assert.equal((await fetch(`${base}/api/v1/resources`)).status, 200, 'reads need no token');
  const cert = await fetch(`${base}/api/v1/certificates`, { method: 'POST' });
  assert.equal(await cert.text(), 'issued', 'a public write path checks its own credentials');
});
