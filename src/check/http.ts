// A GET against the control-plane API that keeps what `weft check` needs: status, headers, body and timing.
import { request } from 'undici';

/** One answer, with the local clock read just before sending and just after the headers arrived. */
export interface ApiAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  sentAt: number;
  receivedAt: number;
}

/** The request could not be made; `reason` is the socket error code or message. */
export class ApiUnreachable extends Error {
  readonly reason: string;
  constructor(url: string, reason: string) {
    super(`cannot reach ${url} (${reason})`);
    this.reason = reason;
  }
}

/** GETs `path` on `server`; rejects with ApiUnreachable when no HTTP answer comes back. */
export async function apiGet(server: string, path: string, timeoutMs: number): Promise<ApiAnswer> {
  const url = new URL(path, server.endsWith('/') ? server : `${server}/`);
  const sentAt = Date.now();
  try {
    const res = await request(url, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const receivedAt = Date.now();
    const body = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body, sentAt, receivedAt };
  } catch (err) {
    throw new ApiUnreachable(url.href, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
}

/** Parses JSON text, or undefined when it is not JSON. */
export function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Parses an answer's JSON body, or undefined when it is not JSON. */
export function jsonBody<T>(answer: ApiAnswer): T | undefined {
  return parseJson<T>(answer.body);
}
