// The dashboard's static files (src/dashboard/ui/), read once and served by the control plane's API at /dashboard/.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ApiRequest, ApiRoute } from '../control/api/server.ts';
import { NotFoundError } from '../errors.ts';

/** Where the dashboard lives on the API port. */
export const DASHBOARD_PATH = '/dashboard/';

/** The dashboard's URL on a control plane whose API is at `apiUrl` (`http://127.0.0.1:15080`). */
export function dashboardUrl(apiUrl: string): string {
  return new URL(DASHBOARD_PATH, apiUrl).href;
}

const UI_DIR = join(import.meta.dirname, 'ui');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Only the page's own files run; data comes from the same origin; no inline script or style
 * (SVG presentation attributes are not styles), no frames, no plugins, no forms.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

interface StaticFile {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** Every file of the UI directory, with its gzip form and ETag (the set is small: tens of KB). */
function loadFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    files.set(name, { type, body, gzip: gzipSync(body, { level: 9 }), etag });
  }
  return files;
}

/** Answers with `file`: 304 when the browser holds this version, gzip when it accepts it. */
function sendFile({ req, res }: ApiRequest, file: StaticFile): void {
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    'content-type': file.type,
    // Revalidated on every load (cheap: a 304), so a new weft version is seen at once.
    'cache-control': 'no-cache',
    etag: file.etag,
    vary: 'accept-encoding',
  };
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? file.gzip : file.body;
  res.writeHead(200, {
    ...headers,
    'content-length': String(body.length),
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  });
  res.end(body);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(308, { location, 'content-length': '0' });
  res.end();
}

/** The API routes that serve the dashboard: `/dashboard/` (index.html) and `/dashboard/FILE`. */
export function dashboardRoutes(dir = UI_DIR): ApiRoute[] {
  const files = loadFiles(dir);
  const index = files.get('index.html');
  if (!index) throw new Error(`the dashboard has no index.html in ${dir}`);
  return [
    {
      path: '/dashboard',
      methods: {
        GET: (request) => {
          // Relative links in the page need the trailing slash.
          if (!request.url.pathname.endsWith('/')) redirect(request.res, DASHBOARD_PATH);
          else sendFile(request, index);
        },
      },
    },
    {
      path: '/dashboard/:file',
      methods: {
        GET: (request) => {
          const file = files.get(request.params[0]);
          if (!file) throw new NotFoundError(`the dashboard has no file ${request.params[0]}`);
          sendFile(request, file);
        },
      },
    },
  ];
}
