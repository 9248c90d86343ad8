// Bookinfo productpage: calls details and reviews by name; /productpage (HTML) and /api/v1/products/:id (JSON).
import type http from 'node:http';
import { getJson, propagatedHeaders, sendJson, serve, type Upstream, VERSION } from './common.ts';

const PRODUCTS = [{ id: 0, title: 'The Comedy of Errors' }];

/** productpage waits 3 s for each call and tries reviews twice, as Istio's Bookinfo does. */
const TIMEOUT_MS = 3000;
const REVIEWS_TRIES = 2;

/** The test user: the `end-user` header, else `x-user`, else `?u=NAME` (Bookinfo's "sign in"). */
function userOf(req: http.IncomingMessage, url: URL): string | undefined {
  const header = req.headers['end-user'] ?? req.headers['x-user'];
  return (typeof header === 'string' && header) || url.searchParams.get('u') || undefined;
}

/** The part of the page one call produced: the answer and who gave it, or an error. */
function section(upstream: Upstream, unavailable: string): Record<string, unknown> {
  if (upstream.outcome === 'failed') return { error: unavailable, status: 0, reason: upstream.error };
  if (upstream.status !== 200)
    return { error: unavailable, status: upstream.status, version: upstream.version };
  const { service: _service, ...body } = upstream.body;
  return { status: 200, ...body, version: upstream.version };
}

async function product(req: http.IncomingMessage, url: URL, id: number): Promise<Record<string, unknown>> {
  const user = userOf(req, url);
  const headers = propagatedHeaders(req);
  if (user) headers['end-user'] = user;
  const details = getJson(`http://details/details/${id}`, headers, TIMEOUT_MS);
  let reviews = await getJson(`http://reviews/reviews/${id}`, headers, TIMEOUT_MS);
  for (let i = 1; i < REVIEWS_TRIES && reviews.outcome === 'failed'; i++)
    reviews = await getJson(`http://reviews/reviews/${id}`, headers, TIMEOUT_MS);
  return {
    ...PRODUCTS[id],
    user: user ?? null,
    requestId: headers['x-request-id'] ?? null,
    productpage: { version: VERSION },
    details: section(await details, 'Sorry, product details are currently unavailable for this book.'),
    reviews: section(reviews, 'Sorry, product reviews are currently unavailable for this book.'),
  };
}

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string,
  );

function html(p: Record<string, unknown>): string {
  const details = p.details as Record<string, unknown>;
  const reviews = p.reviews as { error?: string; version?: string; reviews?: Record<string, unknown>[] };
  const facts = details.error
    ? `<p class="error">${esc(details.error)}</p>`
    : `<dl>${['author', 'year', 'type', 'pages', 'publisher', 'language', 'ISBN-10', 'ISBN-13']
        .map((k) => `<dt>${k}</dt><dd>${esc(details[k])}</dd>`)
        .join('')}</dl>`;
  const items = reviews.error
    ? `<p class="error">${esc(reviews.error)}</p>`
    : (reviews.reviews ?? [])
        .map((r) => {
          const rating = r.rating as { stars?: number; color?: string; error?: string } | undefined;
          const stars = rating?.stars
            ? `<span style="color:${esc(rating.color)}">${'★'.repeat(rating.stars)}${'☆'.repeat(5 - rating.stars)}</span>`
            : rating?.error
              ? `<em>${esc(rating.error)}</em>`
              : '';
          return `<blockquote><p>${esc(r.text)}</p><small>${esc(r.reviewer)}</small> ${stars}</blockquote>`;
        })
        .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Bookinfo</title></head><body>
<p>${p.user ? `signed in as <b>${esc(p.user)}</b>` : '<a href="?u=jason">sign in as jason</a>'}</p>
<h1>${esc(p.title)}</h1>
<h2>Book details <small>(details ${esc(details.version ?? '-')})</small></h2>${facts}
<h2>Book reviews <small>(reviews ${esc(reviews.version ?? '-')})</small></h2>${items}
<footer>productpage ${VERSION}</footer></body></html>\n`;
}

serve('productpage', async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://productpage');
  const match = /^\/api\/v1\/products\/(\d+)$/.exec(url.pathname);
  if (url.pathname === '/health')
    return sendJson(res, 'productpage', 200, { status: 'Product page is healthy' });
  if (url.pathname === '/api/v1/products') return sendJson(res, 'productpage', 200, { products: PRODUCTS });
  if (match && PRODUCTS[Number(match[1])])
    return sendJson(res, 'productpage', 200, await product(req, url, Number(match[1])));
  if (url.pathname === '/' || url.pathname === '/productpage') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-service-version': VERSION });
    return res.end(html(await product(req, url, 0)));
  }
  sendJson(res, 'productpage', 404, { error: 'try /productpage or /api/v1/products/0' });
});
