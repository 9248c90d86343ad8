// What every Bookinfo service shares: its version, a JSON server on PORT, header propagation, a JSON GET with a deadline.
// Nothing here knows about a mesh: calls go to plain names (http://reviews/...) through HTTP_PROXY if one is set.
import http from 'node:http';

/** This instance's version (`v1`, `v2`, ...), shown in the `x-service-version` header and in bodies. */
export const VERSION = process.env.SERVICE_VERSION || 'v1';

/** Headers copied from the incoming request to every outgoing one, as Istio's Bookinfo does. */
const PROPAGATED = [
  'x-request-id',
  'end-user',
  'x-user',
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'x-ot-span-context',
];

export function propagatedHeaders(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROPAGATED) {
    const value = req.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** Answers with JSON and says which service and version answered. */
export function sendJson(res: http.ServerResponse, service: string, status: number, body: object): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-service-name': service,
    'x-service-version': VERSION,
  });
  res.end(JSON.stringify({ service, version: VERSION, ...body }));
}

/** What a call to another service gave: its answer (any status), or why there was none. */
export type Upstream =
  | { outcome: 'answered'; status: number; version: string; body: Record<string, unknown> }
  | { outcome: 'failed'; error: string };

/** GET `url` with `headers`; gives up after `timeoutMs`. Uses http.get, which honours HTTP_PROXY. */
export function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Upstream> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(text);
        } catch {
          body = { text: text.slice(0, 200) };
        }
        const version = String(res.headers['x-service-version'] ?? body.version ?? 'unknown');
        resolve({ outcome: 'answered', status: res.statusCode ?? 0, version, body });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      resolve({ outcome: 'failed', error: err.message });
    });
  });
}

/** Starts the service on PORT (default 9080) and logs one line when it listens. */
export function serve(service: string, handler: http.RequestListener): http.Server {
  const port = Number(process.env.PORT || 9080);
  const server = http.createServer(handler);
  server.listen(port, '127.0.0.1', () => console.log(`${service} ${VERSION} listening on 127.0.0.1:${port}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}
