// A light simulated sidecar for the scale benchmark: weft's own gRPC call (on weft's HTTP/2 client codec), subscribing and ACKing like Envoy, unpacking only what it reads.
//
// Thousands of these share one process (and the control plane's machine), so a response is read
// only down to its version, nonce, type and the size of its resources; the resources themselves
// are decoded once per CDS version for all clients (to know the EDS names to subscribe to). Every
// byte still crosses a real HTTP/2 stream per client, and every response is ACKed.
import protobuf from 'protobufjs';
import { GrpcBidiCall } from '../../src/proxy/xds-client/grpc-call.ts';
import { adsService, type DiscoveryRequestMessage, type WireNode } from '../../src/xds/discovery.ts';
import { decodeResource } from '../../src/xds/protos.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

const ADS = adsService.StreamAggregatedResources;

/** The parts of a DiscoveryResponse the benchmark reads. */
interface RawResponse {
  version: string;
  typeUrl: string;
  nonce: string;
  /** Each `resources` entry (an encoded Any), not decoded. */
  resources: Uint8Array[];
  /** Bytes of all `resources` entries. */
  bytes: number;
}

/** Reads the top-level fields of an encoded DiscoveryResponse without decoding its resources. */
function readResponse(bytes: Buffer): RawResponse {
  const reader = protobuf.Reader.create(bytes);
  const out: RawResponse = { version: '', typeUrl: '', nonce: '', resources: [], bytes: 0 };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1) out.version = reader.string();
    else if (field === 4) out.typeUrl = reader.string();
    else if (field === 5) out.nonce = reader.string();
    else if (field === 2) {
      const entry = reader.bytes();
      out.resources.push(entry);
      out.bytes += entry.length;
    } else reader.skipType(tag & 7);
  }
  return out;
}

/** The `value` of an encoded Any (field 2). */
function anyValue(entry: Uint8Array): Uint8Array {
  const reader = protobuf.Reader.create(entry);
  let value: Uint8Array = new Uint8Array();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 2) value = reader.bytes();
    else reader.skipType(tag & 7);
  }
  return value;
}

/** An EDS names list → its `resource_names` entries, encoded. */
const namesBytes = new WeakMap<string[], Buffer>();

/** CDS version → the EDS names it implies (decoded once for all clients). */
const edsNamesByVersion = new Map<string, string[]>();

function edsNames(response: RawResponse): string[] {
  let names = edsNamesByVersion.get(response.version);
  if (!names) {
    names = response.resources
      .map((entry) => decodeResource(TYPE_URL.cluster, anyValue(entry)))
      .filter((c) => c.type === 'EDS')
      .map((c) => String(c.name))
      .sort();
    edsNamesByVersion.set(response.version, names);
  }
  return names;
}

/** What a client last received of one type. */
export interface Received {
  version: string;
  /** performance.now() at arrival. */
  at: number;
  /** Bytes of the resources in the response. */
  bytes: number;
}

/** One simulated sidecar on its own HTTP/2 connection. */
export class ScaleClient {
  /** Latest response per type URL. */
  readonly last = new Map<string, Received>();
  /** Bytes of resources received since the counter was last reset, per type URL. */
  readonly received = new Map<string, number>();
  /** Why streams ended, with how often (all clients). */
  static readonly endReasons = new Map<string, number>();
  /** Streams that ended (the client reconnects, as a sidecar does). */
  reconnects = 0;
  readonly #address: string;
  readonly #node: WireNode;
  #call: GrpcBidiCall;
  #closed = false;
  /** RDS subscribed on this stream. */
  #routes = false;
  #eds: string[] = [];
  #edsNonce = '';
  #edsVersion = '';

  /** `address` is `host:port` of a plaintext xDS port; `node` what the client says it is. */
  constructor(address: string, node: WireNode) {
    this.#address = address;
    this.#node = node;
    this.#call = this.#open();
  }

  #open(): GrpcBidiCall {
    const call = new GrpcBidiCall(
      {
        address: this.#address,
        path: ADS.path,
        maxMessageBytes: 64 * 1024 * 1024,
        keepaliveIntervalMs: 30_000,
        keepaliveTimeoutMs: 120_000,
        // Each response is read at once down to what is kept (strings, counts): no copy per client.
        transientMessages: true,
      },
      (bytes) => this.#onResponse(readResponse(bytes)),
      (end) => {
        if (this.#closed) return;
        this.reconnects++;
        ScaleClient.endReasons.set(end.details, (ScaleClient.endReasons.get(end.details) ?? 0) + 1);
        setTimeout(() => {
          if (!this.#closed) this.#call = this.#open();
        }, 500);
      },
    );
    this.#routes = false;
    this.#eds = [];
    this.#edsNonce = '';
    this.#edsVersion = '';
    call.write(ADS.requestSerialize({ node: this.#node, type_url: TYPE_URL.cluster, resource_names: [] }));
    call.write(ADS.requestSerialize({ type_url: TYPE_URL.listener, resource_names: [] }));
    return call;
  }

  #send(request: DiscoveryRequestMessage): void {
    this.#call.write(ADS.requestSerialize(request));
  }

  /** An EDS ACK: the names' bytes are encoded once per list for all clients (the server sees the same bytes). */
  #ackEndpoints(version: string, nonce: string): void {
    let names = namesBytes.get(this.#eds);
    if (!names) {
      names = ADS.requestSerialize({ resource_names: this.#eds });
      namesBytes.set(this.#eds, names);
    }
    const rest = ADS.requestSerialize({
      type_url: TYPE_URL.endpoint,
      version_info: version,
      response_nonce: nonce,
      resource_names: [],
    });
    this.#call.write(Buffer.concat([rest, names]));
  }

  #onResponse(r: RawResponse): void {
    const type = r.typeUrl;
    if (type === TYPE_URL.endpoint) {
      this.#edsNonce = r.nonce;
      this.#edsVersion = r.version;
      this.#ackEndpoints(r.version, r.nonce);
    } else {
      const names = type === TYPE_URL.route ? ['outbound'] : [];
      this.#send({ type_url: type, version_info: r.version, response_nonce: r.nonce, resource_names: names });
    }
    this.last.set(type, { version: r.version, at: performance.now(), bytes: r.bytes });
    this.received.set(type, (this.received.get(type) ?? 0) + r.bytes);
    if (type === TYPE_URL.listener && !this.#routes) {
      this.#routes = true;
      this.#send({ type_url: TYPE_URL.route, resource_names: ['outbound'] });
    }
    if (type === TYPE_URL.cluster) {
      const eds = edsNames(r);
      if (eds !== this.#eds && eds.join() !== this.#eds.join()) {
        this.#eds = eds;
        // A subscription change rides on the latest EDS nonce (or opens the EDS watch).
        this.#send({
          type_url: TYPE_URL.endpoint,
          resource_names: eds,
          version_info: this.#edsVersion,
          response_nonce: this.#edsNonce,
        });
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#call.cancel();
  }
}
