// GET /api/v1/tap: opens the admin /tap of every matching proxy and relays the merged records as NDJSON or SSE.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { BadRequestError, ServerUnavailableError } from '../../errors.ts';
import { type AdminProxy, podOf } from './proxy-admin.ts';

const FILTERS = ['namespace', 'service', 'path', 'method'] as const;

/** Which proxies can see requests of the filter: all of the namespace's (callers report too). */
function tapped(proxies: AdminProxy[], params: URLSearchParams): AdminProxy[] {
  const ns = params.get('namespace');
  return ns ? proxies.filter((p) => p.proxy.namespace === ns) : proxies;
}

/** The admin /tap query for the filters (and duration) asked for. */
function upstreamQuery(params: URLSearchParams): string {
  const q = new URLSearchParams();
  for (const f of FILTERS) {
    const v = params.get(f);
    if (v) q.set(f, v);
  }
  const duration = params.get('duration');
  if (duration) q.set('duration', duration);
  return q.toString();
}

function limits(params: URLSearchParams): { max: number; duration: number } {
  const max = Number(params.get('max') ?? 0);
  const duration = Number(params.get('duration') ?? 0);
  if (!Number.isInteger(max) || max < 0)
    throw new BadRequestError('max must be a whole number (0: no limit)');
  if (!(duration >= 0)) throw new BadRequestError('duration must be a number of seconds (0: until closed)');
  return { max, duration };
}

/**
 * Streams records until `max` were sent, `duration` seconds passed, every proxy's tap ended, or
 * the client left. Headers go out once every proxy's tap is open, so a client knows from them
 * that requests made afterwards are seen.
 */
export async function relayTap(
  proxies: AdminProxy[],
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { max, duration } = limits(url.searchParams);
  const targets = tapped(proxies, url.searchParams);
  if (targets.length === 0) throw new ServerUnavailableError('no connected proxy to tap');
  const sse = (req.headers.accept ?? '').includes('text/event-stream');
  const abort = new AbortController();
  const query = upstreamQuery(url.searchParams);
  const opened = await Promise.allSettled(
    targets.map((p) =>
      request(`${p.admin}/tap?${query}`, {
        dispatcher: p.dispatcher,
        signal: abort.signal,
        headersTimeout: 5000,
        bodyTimeout: 0,
      }),
    ),
  );
  const streams = opened.flatMap((r, i) =>
    r.status === 'fulfilled' && r.value.statusCode === 200 ? [{ proxy: targets[i], body: r.value.body }] : [],
  );
  if (streams.length === 0) {
    abort.abort();
    throw new ServerUnavailableError("no proxy's admin /tap could be opened");
  }
  res.writeHead(200, {
    'content-type': sse ? 'text/event-stream' : 'application/x-ndjson',
    'cache-control': 'no-store',
    'x-weft-tapped-proxies': String(streams.length),
  });
  res.flushHeaders();
  let sent = 0;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    abort.abort();
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const timer = duration > 0 ? setTimeout(finish, duration * 1000) : undefined;
  req.socket.once('close', finish);
  const pumps = streams.map(async ({ proxy, body }) => {
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += chunk.toString('utf8');
        let nl = buffer.indexOf('\n');
        while (nl !== -1 && !done) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
          if (line === '') continue;
          const record = `{"proxy":${JSON.stringify(podOf(proxy.id))},${line.slice(1)}`;
          res.write(sse ? `data: ${record}\n\n` : `${record}\n`);
          if (max > 0 && ++sent >= max) finish();
        }
        if (done) break;
      }
    } catch {
      // The proxy went away or the tap was aborted: its part of the stream ends.
    }
  });
  await Promise.all(pumps);
  finish();
}
