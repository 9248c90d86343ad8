// `weft proxyless`'s xDS relay: a loopback plaintext ADS endpoint for the app's gRPC library, each stream carried to the control plane over mTLS with the workload certificate.
//
// gRPC's xDS bootstraps name no client certificate (grpc-js-xds and C-core 1.51 know `insecure`
// and `google_default` only), and the control plane's plaintext port is loopback-only and
// read-only. So, as Istio's agent does for proxyless pods, the agent speaks to the app in
// plaintext on 127.0.0.1 and to the control plane with the workload's identity, pinned to the
// control plane's SPIFFE ID.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { GrpcBidiCall, type GrpcCallEnd, type GrpcCallTls } from '../proxy/xds-client/grpc-call.ts';
import { encodeGrpcMessage, GrpcMessageReader } from '../xds/grpc-frame.ts';

/** The one method relayed: Envoy's aggregated discovery stream. */
export const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** Largest message relayed either way (the control plane's first snapshot can be large). */
const MAX_MESSAGE_BYTES = 64 << 20;

export interface XdsRelayConfig {
  /** The control plane's mTLS xDS addresses (`host:port`); each new stream tries the next. */
  upstreams: readonly string[];
  /** The client certificate and the server check, read for each new stream (rotation). */
  tls: () => GrpcCallTls;
}

export class XdsRelay {
  readonly #server: http2.Http2Server;
  readonly #config: XdsRelayConfig;
  readonly #calls = new Set<GrpcBidiCall>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  #next = 0;

  private constructor(server: http2.Http2Server, config: XdsRelayConfig) {
    this.#server = server;
    this.#config = config;
  }

  /** Listens on 127.0.0.1 (a free port). */
  static async start(config: XdsRelayConfig): Promise<XdsRelay> {
    const server = http2.createServer();
    const relay = new XdsRelay(server, config);
    server.on('stream', (stream, headers) => relay.#relay(stream, headers));
    server.on('session', (session) => {
      relay.#sessions.add(session);
      session.on('close', () => relay.#sessions.delete(session));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return relay;
  }

  /** `127.0.0.1:PORT`, for the bootstrap's `server_uri`. */
  get address(): string {
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Ends every relayed stream and stops listening. */
  async close(): Promise<void> {
    for (const call of this.#calls) call.cancel();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const session of this.#sessions) session.destroy();
    await closed;
  }

  #relay(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    if (headers[':path'] !== ADS_PATH) {
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': '12',
          'grpc-message': 'only ADS is relayed',
        },
        { endStream: true },
      );
      return;
    }
    let trailers: Record<string, string> = { 'grpc-status': '0' };
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    const upstream = this.#config.upstreams[this.#next++ % this.#config.upstreams.length];
    const ended = (end: GrpcCallEnd) => {
      this.#calls.delete(call);
      trailers = { 'grpc-status': String(end.code), 'grpc-message': encodeURIComponent(end.details) };
      if (!stream.destroyed) stream.end();
    };
    const call = new GrpcBidiCall(
      {
        address: upstream,
        path: ADS_PATH,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        keepaliveIntervalMs: 30_000,
        keepaliveTimeoutMs: 20_000,
        tls: this.#config.tls(),
      },
      (message) => {
        if (!stream.destroyed) stream.write(encodeGrpcMessage(message));
      },
      ended,
    );
    this.#calls.add(call);
    const reader = new GrpcMessageReader(MAX_MESSAGE_BYTES);
    stream.on('data', (chunk: Buffer) => {
      const read = reader.push(chunk);
      if (read.outcome === 'messages') for (const message of read.messages) call.write(message);
      else {
        call.cancel();
        ended({ code: 13, details: `the app sent a ${read.outcome} message`, source: 'client' });
      }
    });
    stream.on('error', () => {
      // The stream's 'close' follows and cancels the upstream call.
    });
    stream.on('close', () => {
      this.#calls.delete(call);
      call.cancel();
    });
  }
}
