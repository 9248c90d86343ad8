// Reads the control plane's tap stream (GET /api/v1/tap, NDJSON) for `weft tap` and `weft top`.
import { request } from 'undici';
import { environment } from '../env.ts';
import { ServerUnavailableError, WeftError } from '../errors.ts';
import type { TapRecord } from '../observe/tap.ts';
import { ApiClient } from './client.ts';

/** A record as the control plane relays it: which proxy saw it, then the proxy's record. */
export type RelayedTapRecord = TapRecord & { proxy: string };

export interface TapQuery {
  service?: string;
  namespace?: string;
  path?: string;
  method?: string;
  max?: number;
  /** Seconds; 0 or absent: until stopped. */
  duration?: number;
}

/** Calls `onRecord` for each record until the stream ends; `onOpen` once every proxy's tap is open. */
export async function readTap(
  server: string,
  query: TapQuery,
  onRecord: (r: RelayedTapRecord) => void,
  onOpen: (proxies: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '' && v !== 0) q.set(k, String(v));
  const url = new ApiClient(server).url(`/api/v1/tap?${q}`);
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      headers: environment.operatorToken ? { authorization: `Bearer ${environment.operatorToken}` } : {},
      headersTimeout: 30_000,
      bodyTimeout: 0,
      signal,
    });
  } catch (err) {
    throw new ServerUnavailableError(
      `cannot reach the control plane at ${server}: ${(err as Error).message}`,
    );
  }
  if (response.statusCode !== 200) {
    const body = (await response.body.json().catch(() => undefined)) as
      | { error?: { code: string; message: string } }
      | undefined;
    const e = body?.error;
    throw new WeftError(
      e?.code ?? 'WEFT_SERVER_UNAVAILABLE',
      e?.message ?? `tap answered ${response.statusCode}`,
      {
        status: response.statusCode,
        userError: true,
      },
    );
  }
  onOpen(Number(response.headers['x-weft-tapped-proxies'] ?? 0));
  let buffer = '';
  try {
    for await (const chunk of response.body) {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line !== '') onRecord(JSON.parse(line) as RelayedTapRecord);
      }
    }
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
}

/** Whether a record is the one report of its request that counts (as stat counts): the caller's, or the destination's when the caller has no sidecar. */
export function countedRecord(r: TapRecord): boolean {
  return r.reporter === 'source' || r.source.workload === 'unknown';
}
