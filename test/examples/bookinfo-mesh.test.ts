// Bookinfo in a real mesh: a control plane and one `weft run` unit per service; the scenario YAML changes what answers.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pickFreePorts } from '../../src/run/ports.ts';
import { runCli } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';

const BOOKINFO = fileURLToPath(new URL('../../examples/bookinfo/', import.meta.url));

let dir: string;
let server: string;
/** productpage's sidecar inbound port: requests enter the mesh there, as from an ingress. */
let productpagePort: number;
const processes: WeftProcess[] = [];

/** What one product page showed: status, which versions answered, and the first review's rating. */
interface Page {
  status: number;
  details?: number;
  reviews?: string;
  rating?: string;
}

function getPage(headers: Record<string, string> = {}): Promise<Page> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: productpagePort, path: '/api/v1/products/0', headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve({ status: res.statusCode ?? 0 });
          const p = JSON.parse(body);
          const rating = p.reviews.reviews?.[0].rating;
          resolve({
            status: 200,
            details: p.details.status,
            reviews: p.reviews.version ?? p.reviews.error,
            rating: rating === undefined ? 'none' : (rating.color ?? rating.error),
          });
        });
      },
    );
    req.on('error', reject);
  });
}

async function pages(n: number, headers: Record<string, string> = {}, concurrency = 1): Promise<Page[]> {
  const out: Page[] = [];
  const worker = async () => {
    while (out.length < n) out.push(await getPage(headers));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out.slice(0, n);
}

async function apply(file: string): Promise<void> {
  const r = await runCli(['apply', '-f', join(BOOKINFO, 'istio', file), '--server', server]);
  assert.equal(r.code, 0, r.stderr);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-bookinfo-mesh-'));
  const cp = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/ },
  );
  processes.push(cp);
  server = cp.ready[1];
  // All ports chosen at once (held together, so distinct): units probing side by side could collide.
  const ports = await pickFreePorts(6 * 4);
  const unitPorts = (i: number) =>
    ['--app-port', '--inbound-port', '--outbound-port', '--admin-port'].flatMap((flag, j) => [
      flag,
      String(ports[i * 4 + j]),
    ]);
  productpagePort = ports[5 * 4 + 1];
  const units: [string, string, string, string[]][] = [
    ['details', 'v1', 'details.ts', []],
    ['ratings', 'v1', 'ratings.ts', []],
    ['reviews', 'v1', 'reviews.ts', []],
    ['reviews', 'v2', 'reviews.ts', []],
    ['reviews', 'v3', 'reviews.ts', []],
    ['productpage', 'v1', 'productpage.ts', []],
  ];
  const started = await Promise.all(
    units.map(([service, version, file, flags], i) =>
      startWeft(
        [
          'run',
          '--server',
          server,
          '--service',
          service,
          '--version',
          version,
          ...flags,
          ...unitPorts(i),
          '--',
          process.execPath,
          join(BOOKINFO, file),
        ],
        { ready: /listening on/, env: { SERVICE_VERSION: version }, timeoutMs: 90_000 },
      ),
    ),
  );
  processes.push(...started);
});

after(async () => {
  // Units first (SIGTERM: each stops its app and drains its sidecar), the control plane last.
  await Promise.all(processes.slice(1).map((p) => p.stop('SIGTERM')));
  await processes[0]?.stop('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

test('without routing rules, reviews v1, v2 and v3 all answer', async () => {
  await eventually(async () => {
    const seen = new Set((await pages(12)).map((p) => `${p.reviews}/${p.rating}`));
    assert.deepEqual([...seen].sort(), ['v1/none', 'v2/black', 'v3/red']);
  });
});

test('virtual-service-all-v1.yaml: every page comes from v1', async () => {
  await apply('destination-rule-all.yaml');
  await apply('virtual-service-all-v1.yaml');
  await eventually(async () => {
    for (const p of await pages(6))
      assert.deepEqual(p, { status: 200, details: 200, reviews: 'v1', rating: 'none' });
  });
});

test('virtual-service-reviews-test-v2.yaml: jason sees v2 (black stars), everyone else v1', async () => {
  await apply('virtual-service-reviews-test-v2.yaml');
  await eventually(async () => {
    for (const p of await pages(3, { 'end-user': 'jason' }))
      assert.equal(`${p.reviews}/${p.rating}`, 'v2/black');
    for (const p of await pages(3)) assert.equal(`${p.reviews}/${p.rating}`, 'v1/none');
    for (const p of await pages(2, { 'end-user': 'jasonx' }))
      assert.equal(p.reviews, 'v1', 'exact match only');
  });
});

test('virtual-service-reviews-90-10.yaml: about one page in ten from v3, none from v2', async () => {
  await apply('virtual-service-reviews-90-10.yaml');
  await eventually(async () =>
    assert.equal((await pages(3, { 'end-user': 'jason' })).filter((p) => p.reviews === 'v2').length, 0),
  );
  const versions = (await pages(100)).map((p) => p.reviews);
  const v3 = versions.filter((v) => v === 'v3').length;
  assert.equal(versions.filter((v) => v === 'v2').length, 0);
  // Binomial(100, 0.1): 1..30 holds with probability > 0.9999.
  assert.ok(v3 >= 1 && v3 <= 30, `v3 answered ${v3} of 100`);
  assert.equal(versions.filter((v) => v === 'v1').length, 100 - v3);
});

test('destination-rule-details-circuit-breaker.yaml: concurrent calls to details overflow with 503, the page still answers', async () => {
  await apply('virtual-service-all-v1.yaml');
  await apply('destination-rule-details-circuit-breaker.yaml');
  await eventually(async () => {
    const results = await pages(60, {}, 10);
    assert.ok(results.every((p) => p.status === 200));
    assert.ok(
      results.some((p) => p.details === 503),
      'some details calls were refused by the breaker',
    );
  });
  await apply('destination-rule-all.yaml');
  await eventually(async () => {
    for (const p of await pages(30, {}, 10)) assert.equal(p.details, 200);
  });
});

test('virtual-service-ratings-test-delay.yaml: jason waits 7 s for ratings, so productpage gives up on reviews', async () => {
  await apply('virtual-service-reviews-test-v2.yaml');
  await apply('virtual-service-ratings-test-delay.yaml');
  await eventually(async () => {
    const started = Date.now();
    const [p] = await pages(1, { 'end-user': 'jason' });
    assert.match(p.reviews ?? '', /reviews are currently unavailable/);
    assert.ok(Date.now() - started >= 5000, 'two tries of 3 s, the second cut short by neither');
  }, 30_000);
  for (const p of await pages(2)) assert.equal(p.reviews, 'v1', 'others are not delayed');
});

test('virtual-service-ratings-test-abort.yaml: jason gets "Ratings service is currently unavailable"', async () => {
  await apply('virtual-service-reviews-test-v2.yaml');
  await apply('virtual-service-ratings-test-abort.yaml');
  await eventually(async () => {
    for (const p of await pages(3, { 'end-user': 'jason' }))
      assert.equal(`${p.reviews}/${p.rating}`, 'v2/Ratings service is currently unavailable');
  });
});
