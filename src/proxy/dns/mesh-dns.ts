// Mesh DNS (Istio's DNS proxying): answers A/AAAA for mesh names with their VIPs, forwards every other query to the host's resolvers.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { NameTable } from './name-table.ts';
import { forwardQuery, type Upstream } from './upstream.ts';

/** TTL of a mesh answer (s): short, so a changed VIP is picked up soon (Istio uses 30 s). */
export const MESH_TTL_S = 30;
/** DNS rcode SERVFAIL: no upstream answered. */
const SERVFAIL = 2;
/** Ports tried by `listen` on port 0 before it gives up. */
const PORT_ATTEMPTS = 5;
/** Most bytes of one TCP query (a DNS message is at most 65,535 bytes, queries far less). */
const MAX_TCP_QUERY = 4096;

/** What the DNS server needs. */
export interface MeshDnsConfig {
  /** Address to bind (UDP and TCP on the same port); the sidecar uses 127.0.0.1. */
  host: string;
  /** 0 picks a free port (the UDP one; TCP then binds the same). */
  port: number;
  /** The current name table (it changes with every RDS update). */
  names: () => NameTable;
  /** The host's resolvers, asked for everything that is not a mesh name. */
  upstreams: readonly Upstream[];
  /**
   * Also serve `[::1]` on the same port (ip6tables redirects the app's IPv6 queries there); skipped
   * when the namespace has no IPv6.
   */
  ipv6Twin?: boolean;
}

/** Counters on admin `/stats/prometheus` (`weft_dns_*`). */
export interface MeshDnsStats {
  /** Queries answered from the mesh's names. */
  answered: number;
  /** Queries forwarded to an upstream resolver. */
  forwarded: number;
  /** Forwarded queries no upstream answered (SERVFAIL sent). */
  failed: number;
}

/** The mesh answer to `query`, or undefined when it is not an A/AAAA question for a mesh name. */
export function meshAnswer(query: Buffer, names: NameTable): Buffer | undefined {
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(query);
  } catch {
    return undefined;
  }
  const q = packet.questions?.[0];
  if (packet.type !== 'query' || packet.questions?.length !== 1 || !q || (q.class && q.class !== 'IN'))
    return undefined;
  if (q.type !== 'A' && q.type !== 'AAAA') return undefined;
  const known = names.names.get(q.name.toLowerCase().replace(/\.$/, ''));
  if (!known) return undefined;
  const addresses = q.type === 'A' ? known.v4 : known.v6;
  return dnsPacket.encode({
    id: packet.id,
    type: 'response',
    flags:
      dnsPacket.AUTHORITATIVE_ANSWER |
      dnsPacket.RECURSION_AVAILABLE |
      ((packet.flags ?? 0) & dnsPacket.RECURSION_DESIRED),
    questions: [q],
    // An AAAA question for a name with IPv4 VIPs only: NOERROR and no answer (NODATA), so clients go on with A.
    answers: addresses.map(
      (data) => ({ type: q.type, name: q.name, class: 'IN', ttl: MESH_TTL_S, data }) as dnsPacket.Answer,
    ),
  });
}

/** A SERVFAIL for `query` (no upstream answered), or undefined when it is not even a DNS header. */
function servfail(query: Buffer): Buffer | undefined {
  if (query.length < 12) return undefined;
  const reply = Buffer.from(query.subarray(0, 12));
  // QR=1, keep opcode and RD, RA=1, rcode SERVFAIL; no records (the question is dropped too).
  reply.writeUInt16BE((query.readUInt16BE(2) & 0x7900) | 0x8080 | SERVFAIL, 2);
  reply.fill(0, 4, 12);
  return reply;
}

export class MeshDns {
  readonly stats: MeshDnsStats = { answered: 0, forwarded: 0, failed: 0 };
  private readonly config: MeshDnsConfig;
  private udp: dgram.Socket[] = [];
  private tcp: net.Server[] = [];

  constructor(config: MeshDnsConfig) {
    this.config = config;
  }

  /**
   * Binds UDP, then TCP on the same port; resolves with the port. With port 0 a UDP port whose TCP
   * twin is taken is given back and another one tried (a few times).
   */
  async listen(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const udp = await this.bindUdp(this.config.host, this.config.port);
      const port = udp.address().port;
      try {
        this.tcp = [await this.bindTcp(this.config.host, port)];
      } catch (err) {
        udp.close();
        if (this.config.port !== 0 || attempt >= PORT_ATTEMPTS) throw err;
        continue;
      }
      this.udp = [udp];
      if (this.config.ipv6Twin) await this.bindTwin(port);
      return port;
    }
  }

  /** UDP and TCP on `[::1]:port`, unless the namespace has no IPv6. */
  private async bindTwin(port: number): Promise<void> {
    const noIpv6 = (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT';
    try {
      this.udp.push(await this.bindUdp('::1', port));
      this.tcp.push(await this.bindTcp('::1', port));
    } catch (err) {
      if (!noIpv6(err as NodeJS.ErrnoException)) {
        this.close();
        throw err;
      }
    }
  }

  private bindUdp(host: string, port: number): Promise<dgram.Socket> {
    const udp = dgram.createSocket(
      net.isIP(host) === 6 ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' },
    );
    return new Promise((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, host, () => {
        udp.removeListener('error', reject);
        udp.on('error', () => {});
        udp.on('message', (query, from) => {
          this.resolve(query, 'udp').then((reply) => {
            if (reply) udp.send(reply, from.port, from.address);
          });
        });
        resolve(udp);
      });
    });
  }

  private bindTcp(host: string, port: number): Promise<net.Server> {
    const tcp = net.createServer((socket) => this.serveTcp(socket));
    return new Promise((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port, host, ...(net.isIP(host) === 6 ? { ipv6Only: true } : {}) }, () => {
        tcp.removeListener('error', reject);
        resolve(tcp);
      });
    });
  }

  /** The reply to one query: the mesh's answer, else the upstream's as it came, else SERVFAIL. */
  private async resolve(query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    const mesh = meshAnswer(query, this.config.names());
    if (mesh) {
      this.stats.answered++;
      return mesh;
    }
    this.stats.forwarded++;
    const answer = await forwardQuery(this.config.upstreams, query, transport);
    if (answer) return answer;
    this.stats.failed++;
    return servfail(query);
  }

  /** DNS over TCP: length-prefixed queries, answered in order, until the client closes. */
  private serveTcp(socket: net.Socket): void {
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    socket.on('error', () => {});
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const length = buf.readUInt16BE(0);
        if (length > MAX_TCP_QUERY) return void socket.destroy();
        if (buf.length < 2 + length) break;
        const query = buf.subarray(2, 2 + length);
        buf = buf.subarray(2 + length);
        chain = chain.then(async () => {
          const reply = await this.resolve(query, 'tcp');
          if (!reply || socket.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        });
      }
    });
  }

  close(): void {
    for (const udp of this.udp) udp.close();
    for (const tcp of this.tcp) tcp.close();
    this.udp = [];
    this.tcp = [];
  }
}
