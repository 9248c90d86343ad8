// Test helper: a raw grpc-js ADS client (state of the world or incremental) that records every response.
import * as grpc from '@grpc/grpc-js';
import {
  adsService,
  type DeltaDiscoveryRequestMessage,
  type DeltaDiscoveryResponseMessage,
  type DiscoveryRequestMessage,
  type DiscoveryResponseMessage,
  type WireNode,
} from '../../src/xds/discovery.ts';
import { decodeResource } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/xds/struct.ts';

const AdsClient = grpc.makeGenericClientConstructor(adsService, 'AggregatedDiscoveryService');

type Response = DiscoveryResponseMessage | DeltaDiscoveryResponseMessage;

/** A node as a weft sidecar would send it. */
export function sidecarNode(id: string, metadata: Record<string, unknown> = {}): WireNode {
  return {
    id,
    cluster: String(metadata.WEFT_SERVICE ?? 'reviews'),
    metadata: jsonToStruct({
      WEFT_SIDECAR: 'true',
      NAMESPACE: 'default',
      LABELS: { app: 'reviews', version: 'v1' },
      INSTANCE_IPS: ['127.0.0.1'],
      WEFT_SERVICE: 'reviews',
      WEFT_SERVICE_PORT: '9080',
      WEFT_APP_PORT: '3000',
      WEFT_INBOUND_PORT: '15006',
      WEFT_OUTBOUND_PORT: '15001',
      ...metadata,
    }),
  };
}

/** One ADS stream with a queue of responses. */
export class AdsTestClient<R extends Response = Response> {
  readonly responses: R[] = [];
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientDuplexStream<unknown, R>;
  #cursor = 0;
  #waiters: (() => void)[] = [];
  /** Set when the stream ends: its status. */
  status: grpc.StatusObject | undefined;

  constructor(
    address: string,
    protocol: 'sotw' | 'delta',
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
    this.#client = new AdsClient(address, credentials);
    const method = protocol === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources';
    this.#call = (this.#client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, R>>)[
      method
    ]();
    this.#call.on('data', (r: R) => {
      this.responses.push(r);
      this.#wake();
    });
    this.#call.on('status', (s) => {
      this.status = s;
      this.#wake();
    });
    this.#call.on('error', () => {});
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  send(request: Partial<DiscoveryRequestMessage> | Partial<DeltaDiscoveryRequestMessage>): void {
    this.#call.write(request);
  }

  /** The next response not yet taken (optionally of one type, skipping others); rejects after `timeoutMs`. */
  async next(typeUrl?: string, timeoutMs = 5000): Promise<R> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.responses.length) {
        const r = this.responses[this.#cursor++];
        if (!typeUrl || r.type_url === typeUrl) return r;
      }
      if (this.status) throw new Error(`stream ended: ${this.status.code} ${this.status.details}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response${typeUrl ? ` of ${typeUrl}` : ''} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Responses that arrived and were not taken yet, after waiting `ms`. */
  async pending(ms: number): Promise<R[]> {
    await new Promise((r) => setTimeout(r, ms));
    const out = this.responses.slice(this.#cursor);
    this.#cursor = this.responses.length;
    return out;
  }

  /** Resolves with the stream's final status. */
  async ended(timeoutMs = 5000): Promise<grpc.StatusObject> {
    const deadline = Date.now() + timeoutMs;
    while (!this.status) {
      if (Date.now() > deadline) throw new Error('stream did not end');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.status;
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/** A decoded resource, walked dynamically by tests. */
// biome-ignore lint/suspicious/noExplicitAny: decoded xDS JSON is walked dynamically in tests
export type Decoded = Record<string, any>;

/** Decodes the resources of a state-of-the-world response, keyed by name. */
export function decodeAll(response: DiscoveryResponseMessage): Map<string, Decoded> {
  const out = new Map<string, Decoded>();
  for (const any of response.resources) {
    const r = decodeResource(any.type_url, any.value);
    out.set(String(r.name ?? r.cluster_name), r);
  }
  return out;
}
