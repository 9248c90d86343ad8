// One JSON POST with node:http(s), for the CA API calls a proxy makes (not fetch: that loads Node's bundled undici).
//
// `fetch` is Node's bundled undici: ~10 MB resident in every sidecar that calls it once, for two
// small requests at start and one per certificate renewal (docs/design/sidecar-memory.md).
import type httpModule from 'node:http';
import type httpsModule from 'node:https';
import { createRequire } from 'node:module';
import { useDefaultTrust } from '../proxy/tls/default-trust.ts';

const require = createRequire(import.meta.url);
const http: typeof httpModule = require('node:http');
const https: typeof httpsModule = require('node:https');

/** Largest answer read (the CA's answers are a few KiB); a longer one fails the request. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** The answer to a POST. */
export interface PostResult {
  status: number;
  text: string;
}

/** How to send it. */
export interface PostOptions {
  /** Extra request headers (content-type is application/json). */
  headers?: Record<string, string>;
  /** The whole exchange must finish within this (ms); otherwise it fails with code ETIMEDOUT. */
  timeoutMs: number;
}

/**
 * POSTs `body` as JSON to `url` and reads the answer as text. Rejects with the socket's error
 * (its `code`, e.g. ECONNREFUSED) when there is no answer; any HTTP status resolves.
 */
export function postJson(url: URL, body: unknown, options: PostOptions): Promise<PostResult> {
  const payload = Buffer.from(JSON.stringify(body));
  // An https CA API is verified against Node's default CA certificates.
  if (url.protocol === 'https:') useDefaultTrust();
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers: {
        ...options.headers,
        'content-type': 'application/json',
        'content-length': String(payload.length),
      },
    });
    const timer = setTimeout(() => {
      const err: NodeJS.ErrnoException = new Error(`no answer within ${options.timeoutMs} ms`);
      err.code = 'ETIMEDOUT';
      req.destroy(err);
    }, options.timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > MAX_RESPONSE_BYTES)
          req.destroy(new Error(`the answer is longer than ${MAX_RESPONSE_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(payload);
  });
}
