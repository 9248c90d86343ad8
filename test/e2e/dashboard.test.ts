// The dashboard in headless Chromium (playwright-core) over a real mesh with traffic: graph, canary split, fault, proxies, config, tap.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { runCli } from '../helpers/cli.ts';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

// Screenshots go to WEFT_SCREENSHOTS when set (docs/images is made that way), else to a temporary directory.
const SHOTS = process.env.WEFT_SCREENSHOTS;

let mesh: Mesh;
let client: MeshSidecar;
const apps: Echo[] = [];
let browser: BrowserContext;
let page: Page;
let profile: string;
let shots: string;
let dashboard: string;
/** Milliseconds between two requests of the traffic loop; the loop stops when `stopped`. */
let pause = 100;
let stopped = false;
let traffic: Promise<void>;

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

function canary(fault = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - ${fault}route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v2}, weight: 10}
`;
}

async function sendTraffic(): Promise<void> {
  while (!stopped) {
    await request(client.outbound, { host: 'reviews:9080', path: '/reviews/1', timeoutMs: 10_000 }).catch(
      () => {},
    );
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `dashboard-${name}.png`) });
}

before(async () => {
  mesh = await startMesh(['--telemetry-interval', '1s']);
  const [v1, v2, productpage] = await Promise.all([
    startHttpEcho('reviews-v1'),
    startHttpEcho('reviews-v2'),
    startHttpEcho('productpage'),
  ]);
  apps.push(v1, v2, productpage);
  const reviews = (app: Echo, version: string) =>
    mesh.sidecar([
      '--service',
      'reviews',
      '--version',
      version,
      '--app-port',
      String(app.port),
      '--service-port',
      '9080',
    ]);
  [, , client] = await Promise.all([
    reviews(v1, 'v1'),
    reviews(v2, 'v2'),
    mesh.sidecar(['--service', 'productpage', '--app-port', String(productpage.port)]),
  ]);
  await eventually(async () => {
    assert.equal((await request(client.outbound, { host: 'reviews:9080', path: '/' })).status, 200);
  }, 60_000);
  traffic = sendTraffic();
  profile = await mkdtemp(join(tmpdir(), 'weft-chromium-'));
  shots = SHOTS ?? join(profile, 'shots');
  await mkdir(shots, { recursive: true });
  browser = await chromium.launchPersistentContext(join(profile, 'user-data'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1200, height: 760 },
    colorScheme: 'light',
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  browser.setDefaultTimeout(20_000);
  page = browser.pages()[0] ?? (await browser.newPage());
  dashboard = `${mesh.server}/dashboard/`;
});

after(async () => {
  stopped = true;
  await traffic;
  await browser?.close();
  await mesh?.stop();
  for (const a of apps) await a.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

test('weft dashboard prints the URL the control plane serves the page at', async () => {
  const r = await runCli(['dashboard', '--no-open', '--server', mesh.server]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `weft dashboard: ${dashboard}`);
});

test('first load: small, gzip, strict CSP, no errors in the console', async (t) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const response = await page.goto(dashboard, { waitUntil: 'load' });
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
  await page.locator('main h1').first().waitFor();
  // Run in the page (a string: this project type-checks without the DOM library).
  const load = (await page.evaluate(`(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const files = performance.getEntriesByType('resource').filter((r) => !r.name.includes('/api/'));
    return {
      loadMs: nav.loadEventEnd - nav.startTime,
      bytes: nav.transferSize + files.reduce((n, r) => n + r.transferSize, 0),
      files: files.length + 1,
    };
  })()`)) as { loadMs: number; bytes: number; files: number };
  t.diagnostic(
    `first load: ${load.loadMs.toFixed(0)} ms, ${load.bytes} bytes transferred in ${load.files} files`,
  );
  assert.ok(load.bytes < 300 * 1024, `${load.bytes} bytes`);
  assert.deepEqual(errors, []);
});

test('the graph shows the services and the edge between them with a non-zero rate and mTLS', async () => {
  await page.goto(`${dashboard}#/graph`);
  const edge = page.locator('g.edge[data-edge="productpage>reviews"]');
  await eventually(async () => {
    assert.ok(Number(await edge.getAttribute('data-rps', { timeout: 2000 })) > 0);
    assert.match((await edge.textContent()) ?? '', /rps · 100% · mTLS/);
  }, 30_000);
  assert.equal(await page.locator('g.node[data-key="service:reviews.default.svc.cluster.local"]').count(), 1);
  // Keyboard: Tab reaches the edge, Enter opens the service it calls.
  await edge.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/service\/default\/reviews$/);
  await page.goto(`${dashboard}#/graph`);
  await edge.waitFor();
  await shot('graph');
});

test('after a 90/10 canary is applied, the observed split on the service page converges toward it', async () => {
  await mesh.apply(`${DR}---\n${canary()}`);
  pause = 5;
  await page.goto(`${dashboard}#/service/default/reviews`);
  await eventually(async () => {
    const observed = Number(
      await page.locator('tr[data-version="v1"]').getAttribute('data-observed', { timeout: 2000 }),
    );
    assert.ok(observed > 0.8 && observed < 0.97, `observed v1 share ${observed}`);
    assert.match((await page.locator('tr[data-version="v1"]').textContent()) ?? '', /^v190%/);
    // The page shows the last minute: by then the traffic before the canary has left the window.
  }, 90_000);
  await page.locator('[data-chart="Request duration"] polyline').first().waitFor({ state: 'attached' });
  await shot('service');
});

test('after a fault is injected, the success rate of the edge falls', async () => {
  await mesh.apply(canary('fault: {abort: {httpStatus: 503, percentage: {value: 50}}}\n    '));
  await page.goto(`${dashboard}#/graph`);
  const edge = page.locator('g.edge[data-edge="productpage>reviews"]');
  await eventually(async () => {
    const success = Number(await edge.getAttribute('data-success', { timeout: 2000 }));
    assert.ok(success < 0.9, `success rate ${success}`);
  }, 60_000);
  assert.match((await edge.getAttribute('class')) ?? '', /\bbad\b/);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('graph-fault-dark');
  await page.emulateMedia({ colorScheme: 'light' });
});

test('the proxies page lists every sidecar as synced', async () => {
  await page.goto(`${dashboard}#/proxies`);
  await eventually(async () => {
    const rows = await page.locator('tr[data-proxy]').allTextContents();
    assert.equal(rows.length, 3, rows.join('\n'));
    for (const row of rows) {
      assert.match(row, /SYNCED/);
      assert.doesNotMatch(row, /STALE|NACK/);
    }
    assert.match((await page.locator('h1').textContent()) ?? '', /3 of 3 synced/);
  }, 30_000);
  // Keyboard focus survives the page's refresh (every 5 s).
  const first = await page.locator('tr[data-proxy]').first().getAttribute('data-proxy');
  await page.locator('tr[data-proxy]').first().focus();
  const updated = await page.locator('#status').textContent();
  await eventually(async () => assert.notEqual(await page.locator('#status').textContent(), updated), 20_000);
  assert.equal(await page.evaluate('document.activeElement?.dataset.proxy'), first);
  await shot('proxies');
});

test('a VirtualService to a missing subset shows its warning on the config page', async () => {
  await mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-v3, namespace: default}
spec:
  hosts: [reviews-v3.example]
  http:
  - route: [{destination: {host: reviews, subset: v3}}]
`);
  await page.goto(`${dashboard}#/config`);
  const row = page.locator('tr[data-resource="VirtualService/default/reviews-v3"]');
  await eventually(
    async () => assert.match((await row.textContent({ timeout: 2000 })) ?? '', /⚠ \d issue/),
    20_000,
  );
  await row.focus();
  await page.keyboard.press('Enter');
  const finding = page.locator(
    '[data-detail="VirtualService/default/reviews-v3"] [data-code="SubsetNotFound"]',
  );
  await finding.first().waitFor();
  assert.match((await finding.first().textContent()) ?? '', /subset v3/);
  await shot('config');
});

test('tap streams the requests to the chosen service', async () => {
  await page.goto(`${dashboard}#/tap`);
  await page.fill('input[name="service"]', 'reviews');
  await page.click('button[type="submit"]');
  await eventually(async () => {
    assert.ok((await page.locator('table[data-tap] tbody tr').count()) >= 5);
  }, 30_000);
  assert.match(
    (await page.locator('table[data-tap] tbody tr').first().textContent()) ?? '',
    /GET\/reviews\/1/,
  );
  await shot('tap');
});
