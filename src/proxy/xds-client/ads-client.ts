// ADS client (state of the world): subscribes, ACKs or NACKs each response, reconnects with backoff + jitter.
//
// The stream is one gRPC call on weft's own HTTP/2 client codec (grpc-call.ts), not grpc-js nor
// node:http2: a sidecar has one call to make, and grpc-js costs every sidecar ~15 MB resident,
// node:http2 with its nghttp2 session ~1 MB (docs/design/sidecar-memory.md).

import type { Logger } from '../../observe/log.ts';
import type { DiscoveryRequestMessage, DiscoveryResponseMessage, WireNode } from '../../xds/discovery.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import {
  ADS_PATH,
  decodeDiscoveryResponse,
  decodeXdsResource,
  encodeDiscoveryRequest,
} from '../../xds/wire/ads.ts';
import { camelize } from './camelize.ts';
import { GRPC_STATUS, GrpcBidiCall, type GrpcCallEnd, type GrpcCallTls } from './grpc-call.ts';
import { resolveServerAddresses, systemResolveAll } from './server-addresses.ts';

/** A decoded resource handed to the proxy: its name and its body in camelCase protobufjs form. */
export interface XdsResource {
  name: string;
  body: Record<string, unknown>;
  /**
   * The resource as it came over the wire (protobuf), when it did: what the proxy keeps of it for
   * /config_dump once applied, a fraction of the decoded body's heap. A view of the response: copy to keep.
   */
  encoded?: Uint8Array;
}

/** What the ADS client drives: applies updates and says which RDS/EDS names it needs. */
export interface XdsHandler {
  /**
   * Applies a response. `complete` is true for LDS/CDS (the full set) and false for RDS/EDS
   * (only the named resources changed). Rejects with a message to NACK; the last good config stays.
   */
  apply(typeUrl: string, resources: XdsResource[], version: string, complete: boolean): Promise<void>;
  /** RouteConfiguration names the listeners need now. */
  routeNames(): string[];
  /** ClusterLoadAssignment names the EDS clusters need now. */
  endpointNames(): string[];
}

/** Settings of the ADS client. */
export interface AdsClientConfig {
  /**
   * `host:port` of the control plane's xDS server; several, comma-separated, are tried in turn, and
   * a name stands for every address it resolves to (replicas behind one DNS name).
   */
  address: string;
  node: WireNode;
  /** First reconnect delay (ms); doubles up to `maxBackoffMs`, with jitter. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Largest response accepted (bytes); default 64 MiB. */
  maxMessageBytes?: number;
  /** HTTP/2 PING interval on the connection (ms); default 30 s. */
  keepaliveIntervalMs?: number;
  /** Reconnect when a PING is unanswered this long (ms); default 20 s. */
  keepaliveTimeoutMs?: number;
  /** mTLS settings, asked for at each (re)connect so a rotated certificate is presented. */
  tls?: () => GrpcCallTls;
}

interface TypeState {
  /** Version last ACKed. */
  version: string;
  /** Nonce of the last response. */
  nonce: string;
  /** Names subscribed (empty list for wildcard LDS/CDS). */
  names: string[];
  /** Last NACK message, for /config_dump. */
  lastError: string;
}

/** Types in the order Envoy subscribes (CDS before LDS, so that listeners find their clusters). */
const ORDER = [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.listener, TYPE_URL.route];
const WILDCARD = new Set<string>([TYPE_URL.listener, TYPE_URL.cluster]);

export class AdsClient {
  private readonly config: AdsClientConfig;
  private readonly handler: XdsHandler;
  private readonly log: Logger;
  private call: GrpcBidiCall | undefined;
  private readonly state = new Map<string, TypeState>();
  private attempt = 0;
  /** The configured addresses with names resolved; the list is resolved again once every one was tried. */
  private addresses: string[] = [];
  /** Which of `addresses` the next stream goes to; moves on when a stream fails. */
  private addressIndex = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Responses are applied one at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  /** True while a stream is up and has delivered a response. */
  connected = false;
  /** Counters for /stats. */
  readonly counters = { updates: 0, rejected: 0, connects: 0, disconnects: 0 };

  /** The node id this client sends (for the admin port's /server_info). */
  get nodeId(): string | undefined {
    return this.config.node.id;
  }

  constructor(config: AdsClientConfig, handler: XdsHandler, log: Logger) {
    this.config = config;
    this.handler = handler;
    this.log = log;
    for (const t of ORDER) this.state.set(t, { version: '', nonce: '', names: [], lastError: '' });
  }

  start(): void {
    this.open();
  }

  /** The version and last NACK per type, for /config_dump. */
  status(): Record<string, { version: string; lastError: string }> {
    const out: Record<string, { version: string; lastError: string }> = {};
    for (const [t, s] of this.state) out[t] = { version: s.version, lastError: s.lastError };
    return out;
  }

  /** Opens a stream to the next address; resolves the list again first when every address was tried. */
  private open(): void {
    if (this.closed) return;
    if (this.addressIndex < this.addresses.length) {
      this.connect(this.addresses[this.addressIndex]);
      return;
    }
    this.addressIndex = 0;
    resolveServerAddresses(this.config.address, systemResolveAll).then(
      (addresses) => {
        this.addresses = addresses;
        this.connect(addresses[0]);
      },
      (err: Error) => {
        // DNS is down: the addresses resolved last time still stand, if there were any.
        if (this.addresses.length > 0) this.connect(this.addresses[0]);
        else {
          this.log.warn(
            { address: this.config.address, reason: err.message },
            'cannot resolve the xDS server',
          );
          this.reconnectLater();
        }
      },
    );
  }

  private connect(address: string): void {
    if (this.closed) return;
    this.counters.connects++;
    const call: GrpcBidiCall = new GrpcBidiCall(
      {
        address,
        path: ADS_PATH,
        maxMessageBytes: this.config.maxMessageBytes ?? 64 * 1024 * 1024,
        keepaliveIntervalMs: this.config.keepaliveIntervalMs ?? 30_000,
        keepaliveTimeoutMs: this.config.keepaliveTimeoutMs ?? 20_000,
        tls: this.config.tls?.(),
      },
      (bytes) => this.onMessage(call, bytes),
      (end) => this.onStreamEnd(call, end),
    );
    this.call = call;
    // Initial requests: CDS and LDS as wildcards, RDS/EDS for names already known (after a reconnect).
    for (const t of ORDER) {
      const s = this.state.get(t)!;
      s.nonce = '';
      if (WILDCARD.has(t) || s.names.length > 0) this.send(call, t);
    }
  }

  private onMessage(call: GrpcBidiCall, bytes: Buffer): void {
    if (this.call !== call) return;
    let resp: DiscoveryResponseMessage;
    try {
      resp = decodeDiscoveryResponse(bytes);
    } catch (err) {
      // What grpc-js does with a response it cannot parse: the call fails with INTERNAL.
      call.cancel();
      const details = `failed to parse the server's response: ${err instanceof Error ? err.message : String(err)}`;
      this.onStreamEnd(call, { code: GRPC_STATUS.internal, details, source: 'client' });
      return;
    }
    this.attempt = 0;
    this.connected = true;
    this.queue = this.queue.then(() => this.onResponse(call, resp));
  }

  private onStreamEnd(call: GrpcBidiCall, end: GrpcCallEnd): void {
    if (this.call !== call) return;
    if (end.code === GRPC_STATUS.ok)
      this.log.info({ details: end.details }, 'the control plane ended the xDS stream');
    else
      this.log.warn(
        { code: end.code, details: end.details, source: end.source },
        'xDS stream failed; serving the last configuration',
      );
    this.call = undefined;
    this.connected = false;
    this.counters.disconnects++;
    // The next attempt goes to the next replica; the configuration in force stays meanwhile.
    this.addressIndex++;
    this.reconnectLater();
  }

  /** Opens the next stream after the backoff (doubling per failed attempt, with jitter). */
  private reconnectLater(): void {
    if (this.closed) return;
    const base = Math.min(this.config.maxBackoffMs, this.config.initialBackoffMs * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt++;
    this.log.info({ delayMs: delay }, 'reconnecting to the control plane');
    this.timer = setTimeout(() => this.open(), delay);
  }

  private send(call: GrpcBidiCall, typeUrl: string, errorDetail?: string): void {
    const s = this.state.get(typeUrl)!;
    const req: DiscoveryRequestMessage = {
      version_info: s.version,
      node: this.config.node,
      resource_names: s.names,
      type_url: typeUrl,
      response_nonce: s.nonce,
    };
    if (errorDetail !== undefined) req.error_detail = { code: 3, message: errorDetail };
    call.write(encodeDiscoveryRequest(req));
  }

  private async onResponse(call: GrpcBidiCall, resp: DiscoveryResponseMessage): Promise<void> {
    const typeUrl = resp.type_url ?? '';
    const s = this.state.get(typeUrl);
    if (!s || this.call !== call) return;
    s.nonce = resp.nonce ?? '';
    const version = resp.version_info ?? '';
    let resources: XdsResource[];
    try {
      resources = resp.resources.map((any) => {
        if (any.type_url !== typeUrl)
          throw new Error(`resource of type ${any.type_url} in a ${typeUrl} response`);
        const body = camelize(decodeXdsResource(typeUrl, any.value)) as Record<string, unknown>;
        return { name: resourceName(typeUrl, body), body, encoded: any.value };
      });
      await this.handler.apply(typeUrl, resources, version, WILDCARD.has(typeUrl));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.counters.rejected++;
      s.lastError = message;
      this.log.warn(
        { type: typeUrl, version, reason: message },
        'rejected xDS update (NACK); keeping the last good configuration',
      );
      if (this.call === call) this.send(call, typeUrl, message);
      return;
    }
    this.counters.updates++;
    s.version = version;
    s.lastError = '';
    if (this.call !== call) return;
    this.send(call, typeUrl);
    // New listeners or clusters may name new routes or assignments: (re)subscribe.
    if (typeUrl === TYPE_URL.listener) this.resubscribe(call, TYPE_URL.route, this.handler.routeNames());
    if (typeUrl === TYPE_URL.cluster) this.resubscribe(call, TYPE_URL.endpoint, this.handler.endpointNames());
  }

  private resubscribe(call: GrpcBidiCall, typeUrl: string, names: string[]): void {
    const s = this.state.get(typeUrl)!;
    const sorted = [...new Set(names)].sort();
    if (sorted.length === s.names.length && sorted.every((n, i) => n === s.names[i])) return;
    s.names = sorted;
    this.send(call, typeUrl);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
  }
}

function resourceName(typeUrl: string, body: Record<string, unknown>): string {
  const name = typeUrl === TYPE_URL.endpoint ? body.clusterName : body.name;
  return typeof name === 'string' ? name : '';
}
