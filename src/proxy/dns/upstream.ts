// The host's own resolvers (from /etc/resolv.conf) and one query forwarded to them, unchanged, over UDP or TCP.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Where the host's resolver configuration is. */
export const RESOLV_CONF = '/etc/resolv.conf';
/** How long one upstream has to answer before the next is tried (glibc's default `timeout:5`, shortened). */
export const UPSTREAM_TIMEOUT_MS = 2000;
const DNS_PORT = 53;

/** One resolver to forward to. */
export interface Upstream {
  address: string;
  /** 53 for the resolvers of resolv.conf. */
  port: number;
}

/** `nameserver` addresses of a resolv.conf text, in order; none: `127.0.0.1` (what glibc assumes). */
export function parseNameservers(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const address = m?.[1].replace(/%.*$/, '');
    if (address && net.isIP(address) !== 0) servers.push(address);
  }
  return servers.length > 0 ? servers : ['127.0.0.1'];
}

/** The nameservers of `file` (read once, when the DNS server starts), on port 53. */
export function hostNameservers(file = RESOLV_CONF): Upstream[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no resolv.conf: glibc's default below
  }
  return parseNameservers(text).map((address) => ({ address, port: DNS_PORT }));
}

/** Sends `query` to one server over UDP; the first reply, or undefined after the timeout. */
function askUdp(server: Upstream, query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIP(server.address) === 6 ? 'udp6' : 'udp4');
    const done = (answer: Buffer | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('error', () => done(undefined));
    // The reply must carry the query's id (a stray datagram is not the answer).
    socket.on('message', (reply) => {
      if (reply.length >= 2 && reply.readUInt16BE(0) === query.readUInt16BE(0)) done(reply);
    });
    socket.send(query, server.port, server.address);
  });
}

/** Sends `query` to one server over TCP (2-byte length prefix); the reply, or undefined. */
function askTcp(server: Upstream, query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(server.port, server.address);
    let got = Buffer.alloc(0);
    const done = (answer: Buffer | undefined) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0))
        done(got.subarray(2, 2 + got.readUInt16BE(0)));
    });
    const length = Buffer.alloc(2);
    length.writeUInt16BE(query.length);
    socket.end(Buffer.concat([length, query]));
  });
}

/** Asks each server in turn until one answers; the answer as it came, or undefined when none did. */
export async function forwardQuery(
  servers: readonly Upstream[],
  query: Buffer,
  transport: 'udp' | 'tcp',
  timeoutMs = UPSTREAM_TIMEOUT_MS,
): Promise<Buffer | undefined> {
  for (const server of servers) {
    const answer = await (transport === 'udp' ? askUdp : askTcp)(server, query, timeoutMs);
    if (answer) return answer;
  }
  return undefined;
}
