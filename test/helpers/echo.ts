// Test helper: echo apps on 127.0.0.1 (HTTP/1.1 with WebSocket, h2c, raw TCP) that say who answered.
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';

/** What the HTTP echo answers (JSON). */
export interface EchoReply {
  name: string;
  method: string;
  url: string;
  host: string;
  headers: Record<string, string | string[] | undefined>;
  /** Bytes of request body received. */
  bytes: number;
  /** sha256 of the request body (hex), to check large bodies arrived intact. */
  sha256: string;
  httpVersion: string;
}

export interface Echo {
  port: number;
  close(): Promise<void>;
}

/**
 * HTTP/1.1 echo. Paths: `/status/N` answers N; `/delay/MS` waits; `/bytes/N` streams N bytes
 * (chunked, in 64 KiB pieces); anything else echoes as JSON. Upgrades to WebSocket echo text frames.
 */
export function startHttpEcho(name: string): Promise<Echo> {
  const sockets = new Set<Duplex>();
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const url = req.url ?? '/';
      const status = /^\/status\/(\d{3})/.exec(url);
      const delay = /^\/delay\/(\d+)/.exec(url);
      const stream = /^\/bytes\/(\d+)/.exec(url);
      const reply: EchoReply = {
        name,
        method: req.method ?? '',
        url,
        host: req.headers.host ?? '',
        headers: req.headers,
        bytes,
        sha256: hash.digest('hex'),
        httpVersion: req.httpVersion,
      };
      const send = () => {
        if (stream) {
          let left = Number(stream[1]);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-echo-name': name });
          const piece = Buffer.alloc(65536, 'x');
          const pump = () => {
            while (left > 0) {
              const n = Math.min(left, piece.length);
              left -= n;
              if (!res.write(n === piece.length ? piece : piece.subarray(0, n)))
                return void res.once('drain', pump);
            }
            res.end();
          };
          pump();
          return;
        }
        res.writeHead(status ? Number(status[1]) : 200, {
          'content-type': 'application/json',
          'x-echo-name': name,
        });
        res.end(JSON.stringify(reply));
      };
      if (delay) setTimeout(send, Number(delay[1]));
      else send();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => {
    sockets.add(socket);
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\nx-echo-name: ${name}\r\n\r\n`,
    );
    let buf = head;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const frame = readFrame(buf);
        if (!frame) break;
        buf = buf.subarray(frame.length);
        if (frame.opcode === 8) {
          socket.end(Buffer.from([0x88, 0]));
          return;
        }
        if (frame.opcode === 1) socket.write(textFrame(`${name}: ${frame.payload.toString('utf8')}`));
      }
    });
    socket.on('error', () => {});
  });
  return listen(server, () => {
    for (const s of sockets) s.destroy();
  });
}

function readFrame(buf: Buffer): { opcode: number; payload: Buffer; length: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  const maskOff = off;
  if (masked) off += 4;
  if (buf.length < off + len) return undefined;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskOff + (i % 4)];
  return { opcode, payload, length: off + len };
}

function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header =
    payload.length < 126
      ? Buffer.from([0x81, payload.length])
      : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

/** h2c (prior knowledge) echo: answers JSON like the HTTP/1.1 echo; `/trailers` adds a trailer. */
export function startH2Echo(name: string): Promise<Echo> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const hash = createHash('sha256');
    let bytes = 0;
    stream.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    stream.on('end', () => {
      const path = String(headers[':path']);
      const reply: EchoReply = {
        name,
        method: String(headers[':method']),
        url: path,
        host: String(headers[':authority'] ?? ''),
        headers: headers as Record<string, string>,
        bytes,
        sha256: hash.digest('hex'),
        httpVersion: '2.0',
      };
      const trailers = path === '/trailers';
      stream.respond(
        { ':status': 200, 'content-type': 'application/json', 'x-echo-name': name },
        { waitForTrailers: trailers },
      );
      if (trailers) stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'yes' }));
      stream.end(JSON.stringify(reply));
    });
    stream.on('error', () => {});
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  return listen(server, () => {
    for (const s of sessions) s.destroy();
  });
}

/** Raw TCP echo: writes `name: ` once, then echoes bytes; half-close aware (ends after the client ends). */
export function startTcpEcho(name: string): Promise<Echo> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write(`${name}: `);
    s.pipe(s);
  });
  return listen(server, () => {
    for (const s of sockets) s.destroy();
  });
}

function listen(server: net.Server, destroyAll: () => void): Promise<Echo> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        close: () =>
          new Promise<void>((r) => {
            destroyAll();
            server.close(() => r());
          }),
      });
    });
  });
}
