// Sends requests to productpage's /api/v1/products/0 and counts what answered: `node traffic.mjs URL [-n 20] [-c 1] [--user jason]`
// (plain JavaScript, so any Node.js 18+ runs it).
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string', short: 'n', default: '20' },
    c: { type: 'string', short: 'c', default: '1' },
    user: { type: 'string', short: 'u' },
  },
});
const base = positionals[0] ?? 'http://127.0.0.1:8080';
const [total, concurrency] = [Number(values.n), Number(values.c)];
const headers = values.user ? { 'end-user': values.user } : {};

/** One line describing what a page showed. */
function describe(status, body) {
  if (status !== 200) return `productpage answered ${status}`;
  const p = JSON.parse(body);
  const r = p.reviews;
  const rating = r.reviews?.[0]?.rating;
  const stars = rating === undefined ? 'no stars' : rating.color ? `${rating.color} stars` : rating.error;
  const reviews = r.error ? `reviews unavailable (${r.status})` : `reviews ${r.version} (${stars})`;
  return `${reviews}, details ${p.details.error ? `unavailable (${p.details.status})` : p.details.version}`;
}

function once() {
  return new Promise((resolve) => {
    const started = Date.now();
    http
      .get(new URL('/api/v1/products/0', base), { headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d) => (body += d));
        res.on('end', () => {
          const slow = Date.now() - started > 1000 ? ` [${((Date.now() - started) / 1000).toFixed(1)}s]` : '';
          resolve(describe(res.statusCode ?? 0, body) + slow);
        });
      })
      .on('error', (err) => resolve(`error: ${err.message}`));
  });
}

const counts = new Map();
let sent = 0;
const started = Date.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (sent < total) {
      sent++;
      const line = await once();
      counts.set(line, (counts.get(line) ?? 0) + 1);
    }
  }),
);
console.log(
  `${total} requests in ${((Date.now() - started) / 1000).toFixed(1)}s${values.user ? ` as ${values.user}` : ''}`,
);
for (const [line, count] of [...counts].sort((a, b) => b[1] - a[1]))
  console.log(`${String(count).padStart(5)}  ${line}`);
