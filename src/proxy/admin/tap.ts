// Admin /tap: finished requests as NDJSON, one record a line, while the client stays (the admin port binds loopback only).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TapFilter, TapHub } from '../../observe/tap.ts';

/** Longest a tap stays open, so a forgotten client does not keep a subscriber forever. */
const MAX_TAP_MS = 10 * 60_000;

/** The filter of `?namespace=&service=&path=&method=`. */
export function tapFilter(params: URLSearchParams): TapFilter {
  return {
    namespace: params.get('namespace') || undefined,
    service: params.get('service') || undefined,
    pathPrefix: params.get('path') || undefined,
    method: params.get('method') || undefined,
  };
}

/** Streams matching records until `?max=N` were sent, `?duration=S` seconds passed, or the client left. */
export function serveTap(hub: TapHub, url: URL, req: IncomingMessage, res: ServerResponse): void {
  const max = Number(url.searchParams.get('max') ?? 0);
  const seconds = Number(url.searchParams.get('duration') ?? 0);
  if (!Number.isInteger(max) || max < 0 || !(seconds >= 0)) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('max must be a whole number and duration a number of seconds\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  let sent = 0;
  const stop = () => {
    unsubscribe();
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const unsubscribe = hub.subscribe(tapFilter(url.searchParams), (record) => {
    res.write(`${JSON.stringify(record)}\n`);
    if (max > 0 && ++sent >= max) stop();
  });
  const timer = setTimeout(stop, seconds > 0 ? Math.min(seconds * 1000, MAX_TAP_MS) : MAX_TAP_MS);
  req.socket.once('close', stop);
  res.once('close', stop);
}
