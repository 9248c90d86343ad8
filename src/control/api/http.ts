// Small HTTP helpers for the API: JSON responses and the error body every failure gets.
import type { ServerResponse } from 'node:http';
import { InternalError, WeftError } from '../../errors.ts';

/** Sends `body` as JSON with `status`. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Any thrown value as the WeftError the API answers with (unknown errors become InternalError). */
export function toWeftError(err: unknown): WeftError {
  if (err instanceof WeftError) return err;
  return new InternalError(err instanceof Error ? err.message : String(err), err);
}

/** Answers with `{"error": err.toJSON()}` and the error's status, if nothing was sent yet. */
export function sendError(res: ServerResponse, err: WeftError, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { error: err.toJSON() }, headers);
}
