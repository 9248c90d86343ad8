// Local replies: the responses the proxy itself sends (404 NR, 503 UH/UF, 504 UT, ...), for HTTP and gRPC.
import { RESPONSE_FLAGS_HEADER, type ResponseFlag } from '../common/response-flags.ts';
import { STATUS_TEXT } from './h1/parser.ts';

/** Envoy's gRPC status for an HTTP status of a local reply (grpc-status in a trailers-only response). */
export function grpcStatusFor(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** True for a gRPC request (content-type application/grpc*). */
export function isGrpc(contentType: string | undefined): boolean {
  return contentType?.startsWith('application/grpc') === true;
}

/** Response body text Envoy uses for upstream failures. */
export const LOCAL_BODY = {
  noHealthyUpstream: 'no healthy upstream',
  connectFailure:
    'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  connectionTermination:
    'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  protocolError: 'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
  timeout: 'upstream request timeout',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  upgradeFailed: 'upgrade not allowed',
} as const;

/** Serialises an HTTP/1.1 local reply. */
export function h1LocalReply(
  status: number,
  body: string,
  flag: ResponseFlag | undefined,
  close: boolean,
  extraHeaders: readonly string[] | undefined,
  grpc: boolean,
  serverName: string,
): string {
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n`;
  // A filter may name the gRPC status itself (fault abort with grpc_status).
  const given = extraHeaders ? extraHeaders.indexOf('grpc-status') : -1;
  if (grpc || given >= 0) {
    head = 'HTTP/1.1 200 OK\r\n';
    if (given < 0) head += `grpc-status: ${grpcStatusFor(status)}\r\n`;
    head += `content-type: application/grpc\r\ngrpc-message: ${encodeURIComponent(body)}\r\n`;
    body = '';
  } else if (body !== '') head += 'content-type: text/plain\r\n';
  if (flag) head += `${RESPONSE_FLAGS_HEADER}: ${flag}\r\n`;
  if (extraHeaders)
    for (let i = 0; i < extraHeaders.length; i += 2) head += `${extraHeaders[i]}: ${extraHeaders[i + 1]}\r\n`;
  head += `server: ${serverName}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  if (close) head += 'connection: close\r\n';
  return `${head}\r\n${body}`;
}
