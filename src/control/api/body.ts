// Reads a request body as JSON with a size limit, turning every malformed input into a 4xx error.
import type { IncomingMessage } from 'node:http';
import { BadRequestError, RequestTooLargeError } from '../../errors.ts';

/** The API's default body limit: 8 MiB. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

function tooLarge(limit: number): RequestTooLargeError {
  return new RequestTooLargeError(
    `request body is larger than ${limit} bytes: split it into smaller requests`,
  );
}

/** Resolves to the parsed JSON body; rejects with RequestTooLargeError or BadRequestError. */
export async function readJsonBody(req: IncomingMessage, limit: number = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof RequestTooLargeError) throw err;
    // The client went away mid-body; nobody reads the answer, but it must not count as a failure of ours.
    throw new BadRequestError(`request body was cut off: ${(err as Error).message}`);
  }
  if (size === 0) throw new BadRequestError('request body is empty: send a JSON object');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}
