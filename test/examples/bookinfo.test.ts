// The Bookinfo sample without a mesh: each service on its own PORT, a forward proxy written here standing in for the sidecars.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pickFreePorts } from '../../src/run/ports.ts';

const DIR = fileURLToPath(new URL('../../examples/bookinfo/', import.meta.url));

/** Where the stand-in proxy sends each plain name; `fail` answers 500 itself (like an abort fault). */
const routes: Record<string, number | 'fail'> = {};
/** Every request the proxy forwarded: the absolute-form target and the headers it carried. */
const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
const ports: Record<string, number> = {};
let proxy: http.Server;

/**
 * HTTP_PROXY for the services: takes absolute-form requests (`GET http://reviews/reviews/0`),
 * as Node's http.get sends them with NODE_USE_ENV_PROXY=1, and forwards them by host name. It
 * has no CONNECT support on purpose: the services must use http.request, whose requests a
 * sidecar can route one by one (fetch would tunnel them).
 */
function startProxy(): Promise<number> {
  proxy = http.createServer((req, res) => {
    const target = new URL(req.url ?? '/');
    seen.push({ url: req.url ?? '', headers: req.headers });
    const port = routes[target.hostname];
    if (port === undefined || port === 'fail') {
      res.writeHead(port === 'fail' ? 500 : 404).end(`no route to ${target.hostname}`);
      return;
    }
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port,
        path: target.pathname + target.search,
        headers: req.headers,
        method: req.method,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(503).end('upstream connect error'));
    req.pipe(upstream);
  });
  return new Promise((resolve) =>
    proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as AddressInfo).port)),
  );
}

function startService(name: string, file: string, version: string, proxyPort: number): Promise<void> {
  const child = spawn(process.execPath, [`${DIR}${file}.ts`], {
    env: {
      PATH: process.env.PATH,
      PORT: String(ports[name]),
      SERVICE_VERSION: version,
      HTTP_PROXY: `http://127.0.0.1:${proxyPort}`,
      NO_PROXY: 'localhost,127.0.0.1,::1',
      NODE_USE_ENV_PROXY: '1',
    },
  });
  children.push(child);
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('listening on')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}) before listening:\n${out}`)));
  });
}

before(async () => {
  const proxyPort = await startProxy();
  const names = ['productpage', 'details', 'ratings', 'reviews-v1', 'reviews-v2', 'reviews-v3'];
  const free = await pickFreePorts(names.length);
  for (const [i, n] of names.entries()) ports[n] = free[i];
  await Promise.all([
    startService('productpage', 'productpage', 'v1', proxyPort),
    startService('details', 'details', 'v1', proxyPort),
    startService('ratings', 'ratings', 'v1', proxyPort),
    startService('reviews-v1', 'reviews', 'v1', proxyPort),
    startService('reviews-v2', 'reviews', 'v2', proxyPort),
    startService('reviews-v3', 'reviews', 'v3', proxyPort),
  ]);
});

after(() => {
  for (const child of children) child.kill('SIGKILL');
  proxy?.close();
});

/** Points the plain names at instances: `reviews` at one version, the others at their only one. */
function route(reviews: 'v1' | 'v2' | 'v3', overrides: Record<string, number | 'fail'> = {}): void {
  Object.assign(
    routes,
    { details: ports.details, ratings: ports.ratings, reviews: ports[`reviews-${reviews}`] },
    overrides,
  );
  seen.length = 0;
}

async function productJson(headers: Record<string, string> = {}, query = '') {
  const res = await fetch(`http://127.0.0.1:${ports.productpage}/api/v1/products/0${query}`, { headers });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-service-version'), 'v1');
  return (await res.json()) as {
    title: string;
    user: string | null;
    productpage: { version: string };
    details: { version: string; status: number; author?: string; error?: string };
    reviews: {
      version: string;
      status: number;
      error?: string;
      ratingsVersion?: string;
      reviews?: { reviewer: string; rating?: { stars?: number; color?: string; error?: string } }[];
    };
  };
}

test('reviews v1: details and reviews without stars; nobody calls ratings', async () => {
  route('v1');
  const p = await productJson();
  assert.equal(p.title, 'The Comedy of Errors');
  assert.deepEqual(p.productpage, { version: 'v1' });
  assert.equal(p.details.version, 'v1');
  assert.equal(p.details.author, 'William Shakespeare');
  assert.equal(p.reviews.version, 'v1');
  assert.equal(p.reviews.reviews?.length, 2);
  assert.ok(p.reviews.reviews?.every((r) => r.rating === undefined));
  assert.deepEqual(seen.map((s) => s.url).sort(), ['http://details/details/0', 'http://reviews/reviews/0']);
});

test('reviews v2 asks ratings and shows black stars; v3 red stars', async () => {
  route('v2');
  const v2 = await productJson();
  assert.equal(v2.reviews.version, 'v2');
  assert.equal(v2.reviews.ratingsVersion, 'v1');
  assert.deepEqual(
    v2.reviews.reviews?.map((r) => r.rating),
    [
      { stars: 5, color: 'black' },
      { stars: 4, color: 'black' },
    ],
  );
  assert.ok(seen.some((s) => s.url === 'http://ratings/ratings/0'));
  route('v3');
  const v3 = await productJson();
  assert.equal(v3.reviews.version, 'v3');
  assert.deepEqual(v3.reviews.reviews?.[0].rating, { stars: 5, color: 'red' });
});

test('x-request-id, end-user and trace headers travel from productpage to reviews to ratings', async () => {
  route('v2');
  const incoming = {
    'x-request-id': 'req-42',
    'end-user': 'jason',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
    'x-b3-spanid': 'e457b5a2e4d86bd1',
    'x-b3-sampled': '1',
  };
  const p = await productJson(incoming);
  assert.equal(p.user, 'jason');
  const calls = seen.filter(
    (s) => s.url.startsWith('http://reviews/') || s.url.startsWith('http://ratings/'),
  );
  assert.equal(calls.length, 2, 'productpage → reviews and reviews → ratings');
  for (const call of calls)
    for (const [name, value] of Object.entries(incoming))
      assert.equal(call.headers[name], value, `${name} on ${call.url}`);
});

test('?u=jason signs in: end-user is sent on every call', async () => {
  route('v2');
  const p = await productJson({}, '?u=jason');
  assert.equal(p.user, 'jason');
  assert.equal(seen.length, 3);
  for (const call of seen) assert.equal(call.headers['end-user'], 'jason', call.url);
});

test('failures show as Bookinfo shows them: ratings down, details down, reviews down', async () => {
  route('v2', { ratings: 'fail' });
  const noRatings = await productJson();
  assert.deepEqual(noRatings.reviews.reviews?.[0].rating, {
    error: 'Ratings service is currently unavailable',
  });
  route('v1', { details: 'fail' });
  const noDetails = await productJson();
  assert.equal(noDetails.details.status, 500);
  assert.equal(noDetails.details.error, 'Sorry, product details are currently unavailable for this book.');
  assert.equal(noDetails.reviews.version, 'v1');
  route('v1', { reviews: (await pickFreePorts(1))[0] }); // nothing listens there
  const noReviews = await productJson();
  assert.equal(noReviews.reviews.status, 503);
  assert.match(noReviews.reviews.error ?? '', /reviews are currently unavailable/);
});

test('the HTML page shows the book, the versions that answered and the stars', async () => {
  route('v3');
  const res = await fetch(`http://127.0.0.1:${ports.productpage}/productpage?u=jason`);
  assert.equal(res.status, 200);
  const page = await res.text();
  assert.match(page, /<h1>The Comedy of Errors<\/h1>/);
  assert.match(page, /signed in as <b>jason<\/b>/);
  assert.match(page, /\(details v1\)/);
  assert.match(page, /\(reviews v3\)/);
  assert.match(page, /<span style="color:red">★★★★★<\/span>/);
});

test('each service says who answered, in a header and in the body', async () => {
  for (const [name, path] of [
    ['details', '/details/0'],
    ['ratings', '/ratings/0'],
    ['reviews-v3', '/reviews/0'],
  ]) {
    route('v3');
    const res = await fetch(`http://127.0.0.1:${ports[name]}${path}`);
    const body = (await res.json()) as { service: string; version: string };
    assert.equal(res.headers.get('x-service-name'), name.replace(/-v\d$/, ''));
    assert.equal(res.headers.get('x-service-version'), name === 'reviews-v3' ? 'v3' : 'v1');
    assert.deepEqual(
      [body.service, body.version],
      [name.replace(/-v\d$/, ''), name === 'reviews-v3' ? 'v3' : 'v1'],
    );
  }
});
