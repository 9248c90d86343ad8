// Test helper: small HTTP/1.1 and h2c clients for talking to a proxy port with any Host header.
import http from 'node:http';
import http2 from 'node:http2';

/** How long a test request waits for its whole reply: far above any healthy reply on a busy machine. */
const REPLY_TIMEOUT_MS = 30_000;

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Parsed JSON body, when it is JSON. */
  json: Record<string, unknown> | undefined;
}

/** One HTTP/1.1 request through `port` with the given Host (or an absolute URL as proxy form). */
export function request(
  port: number,
  options: {
    host?: string;
    path?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | string;
    agent?: http.Agent;
    /** Send the body with Transfer-Encoding: chunked in pieces of this size. */
    chunked?: number;
    /** Fail (and close the connection) when the whole reply has not arrived by then. */
    timeoutMs?: number;
  } = {},
): Promise<Reply> {
  const timeoutMs = options.timeoutMs ?? REPLY_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.host) headers.host = options.host;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const body = Buffer.concat(parts);
          let json: Record<string, unknown> | undefined;
          if (String(res.headers['content-type'] ?? '').includes('json')) {
            try {
              json = JSON.parse(body.toString('utf8'));
            } catch {
              json = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const timer = setTimeout(() => {
      const what = `${options.method ?? 'GET'} ${options.path ?? '/'} (Host ${options.host ?? '-'})`;
      reject(new Error(`no complete reply from 127.0.0.1:${port} to ${what} within ${timeoutMs} ms`));
      req.destroy();
    }, timeoutMs);
    req.on('close', () => clearTimeout(timer));
    const body = options.body;
    if (body !== undefined && options.chunked) {
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
      for (let i = 0; i < buf.length; i += options.chunked) req.write(buf.subarray(i, i + options.chunked));
      req.end();
    } else req.end(body);
  });
}

/** One h2c request (prior knowledge) through `port`. */
export function h2request(
  port: number,
  options: {
    authority: string;
    path?: string;
    method?: string;
    body?: Buffer | string;
    headers?: Record<string, string>;
    /** Fail (and close the session) when the whole reply has not arrived by then. */
    timeoutMs?: number;
  },
): Promise<Reply & { trailers: http2.IncomingHttpHeaders }> {
  const timeoutMs = options.timeoutMs ?? REPLY_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const timer = setTimeout(() => {
      const what = `${options.method ?? 'GET'} ${options.path ?? '/'} (:authority ${options.authority})`;
      session.destroy();
      reject(new Error(`no complete h2c reply from 127.0.0.1:${port} to ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    session.on('close', () => clearTimeout(timer));
    const stream = session.request({
      ':method': options.method ?? 'GET',
      ':path': options.path ?? '/',
      ':authority': options.authority,
      ...options.headers,
    });
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = h as http.IncomingHttpHeaders;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('end', () => {
      session.close();
      const body = Buffer.concat(parts);
      let json: Record<string, unknown> | undefined;
      try {
        json = String(headers['content-type'] ?? '').includes('json')
          ? JSON.parse(body.toString('utf8'))
          : undefined;
      } catch {
        json = undefined;
      }
      resolve({ status, headers, body, json, trailers });
    });
    stream.on('error', (err) => {
      session.destroy();
      reject(err);
    });
    stream.end(options.body);
  });
}
