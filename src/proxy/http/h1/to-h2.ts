// Forwards a request from an HTTP/1.1 client to an HTTP/2 upstream (h2c) and writes the response back as HTTP/1.1.
import http2 from 'node:http2';
import type { Cluster } from '../../cluster/cluster.ts';
import type { Host } from '../../cluster/host.ts';
import { LOCAL_BODY } from '../local-reply.ts';
import type { H1ServerConnection } from './server-connection.ts';

/** The request side of an HTTP/2 upstream stream, as the HTTP/1.1 connection drives it. */
export interface H2UpstreamRequest {
  write(chunk: Buffer): void;
  end(): void;
  abort(): void;
}

/** Headers HTTP/2 forbids (RFC 9113 8.2.2); the HTTP/1.1 parser already removed most of them. */
const H2_FORBIDDEN = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
]);

/** Builds HTTP/2 request headers from an HTTP/1.1 request head. */
export function h2RequestHeaders(conn: H1ServerConnection): http2.OutgoingHttpHeaders {
  const head = conn.head;
  const out: http2.OutgoingHttpHeaders = {
    ':method': head.method,
    ':scheme': head.scheme,
    ':authority': head.authority,
    ':path': head.path,
  };
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    if (H2_FORBIDDEN.has(name)) continue;
    if (name === 'te' && h[i + 1].toLowerCase() !== 'trailers') continue;
    const prev = out[name];
    out[name] =
      prev === undefined ? h[i + 1] : Array.isArray(prev) ? [...prev, h[i + 1]] : [String(prev), h[i + 1]];
  }
  if (out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = head.scheme;
  if (conn.requestContentLength >= 0) out['content-length'] = String(conn.requestContentLength);
  return out;
}

export function forwardH1ToH2(conn: H1ServerConnection, cluster: Cluster, host: Host): void {
  const session = cluster.h2Pool(host).get();
  let stream: http2.ClientHttp2Stream;
  try {
    stream = session.request(h2RequestHeaders(conn), { endStream: conn.requestDone });
  } catch {
    conn.upstreamFailed('UF', LOCAL_BODY.connectFailure);
    return;
  }
  let responded = false;
  let chunked = false;
  let trailers: http2.IncomingHttpHeaders | undefined;
  let failed = false;
  const request: H2UpstreamRequest = {
    write(chunk) {
      if (!stream.write(chunk)) {
        conn.pauseDownstream(true);
        stream.once('drain', () => conn.pauseDownstream(false));
      }
    },
    end() {
      if (!stream.writableEnded) stream.end();
    },
    abort() {
      failed = true;
      stream.close(http2.constants.NGHTTP2_CANCEL);
    },
  };
  conn.h2Upstream = request;
  stream.on('response', (headers, flags) => {
    responded = true;
    const status = Number(headers[':status']);
    const flat: string[] = [];
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || name === 'content-length') continue;
      if (Array.isArray(value)) for (const v of value) flat.push(name, v);
      else if (value !== undefined) flat.push(name, String(value));
    }
    const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    const cl = headers['content-length'];
    const bodyless = endStream || conn.head.method === 'HEAD' || status === 204 || status === 304;
    chunked = !bodyless && cl === undefined && !conn.http10;
    conn.writeHead(status, flat, chunked, cl !== undefined ? Number(cl) : bodyless ? 0 : -1);
  });
  stream.on('data', (chunk: Buffer) => {
    const ok = chunked
      ? conn.writeBody(`${chunk.length.toString(16)}\r\n`) && conn.writeBody(chunk) && conn.writeBody('\r\n')
      : conn.writeBody(chunk);
    if (!ok) {
      stream.pause();
      conn.socket.once('drain', () => stream.resume());
    }
  });
  stream.on('trailers', (t) => {
    trailers = t;
  });
  stream.on('end', () => {
    if (failed) return;
    if (chunked) {
      let tail = '0\r\n';
      if (trailers)
        for (const [k, v] of Object.entries(trailers)) if (!k.startsWith(':')) tail += `${k}: ${v}\r\n`;
      conn.writeBody(`${tail}\r\n`);
    }
    failed = true;
    conn.upstreamDone();
  });
  stream.on('error', () => {
    if (failed) return;
    failed = true;
    conn.upstreamFailed(
      responded ? 'UR' : 'UF',
      responded ? LOCAL_BODY.connectionTermination : LOCAL_BODY.connectFailure,
    );
  });
  stream.on('close', () => {
    if (failed) return;
    failed = true;
    conn.upstreamFailed('UR', LOCAL_BODY.connectionTermination);
  });
}
