// The dashboard's files on the API port: content types, gzip, ETag revalidation, CSP, the trailing-slash redirect, 404.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ApiServer } from '../../src/control/api/server.ts';
import { FileStore } from '../../src/control/store/file-store.ts';
import { dashboardUrl } from '../../src/dashboard/serve.ts';
import { setLogLevel } from '../../src/observe/log.ts';

setLogLevel('silent');

let api: ApiServer;
let store: FileStore;
let dataDir: string;
let port: number;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET with raw bytes (fetch would unzip the body and hide content-encoding). */
function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'weft-dashboard-'));
  store = await FileStore.open({ dir: join(dataDir, 'store') });
  api = new ApiServer({ host: '127.0.0.1', port: 0 }, { store, bootstrap: () => undefined });
  port = await api.listen();
  api.setState('ready');
});

after(async () => {
  await api.close();
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('the dashboard URL is /dashboard/ on the API address', () => {
  assert.equal(dashboardUrl('http://127.0.0.1:15080'), 'http://127.0.0.1:15080/dashboard/');
});

test('/dashboard/ is the page, with a strict CSP, gzip when accepted, and 304 when the browser has it', async () => {
  const page = await get('/dashboard/', { 'accept-encoding': 'gzip, deflate' });
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['content-encoding'], 'gzip');
  assert.equal(page.headers['cache-control'], 'no-cache');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  const csp = String(page.headers['content-security-policy']);
  for (const directive of [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
  ])
    assert.ok(csp.includes(directive), csp);
  const html = gunzipSync(page.body).toString('utf8');
  assert.equal(html, await readFile(new URL('../../src/dashboard/ui/index.html', import.meta.url), 'utf8'));
  assert.doesNotMatch(html, /<script>|style="/, 'no inline script or style: the CSP would block them');

  const plain = await get('/dashboard/');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body.toString('utf8'), html);

  const again = await get('/dashboard/', { 'if-none-match': String(page.headers.etag) });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
});

test('scripts and styles carry their content types; /dashboard redirects; unknown files are 404', async () => {
  assert.equal((await get('/dashboard/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal((await get('/dashboard/style.css')).headers['content-type'], 'text/css; charset=utf-8');
  const bare = await get('/dashboard');
  assert.equal(bare.status, 308);
  assert.equal(bare.headers.location, '/dashboard/');
  const missing = await get('/dashboard/secret.ts');
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body.toString('utf8')).error.code, 'WEFT_NOT_FOUND');
  assert.equal((await get('/dashboard/..%2Fserve.ts')).status, 404);
});
