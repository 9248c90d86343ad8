// The ADS server: state-of-the-world and incremental xDS over gRPC, with ACK/NACK tracking and debounced pushes.
import { XdsIdentityError, XdsNodeInvalidError } from '../../errors.ts';
import { type SpiffeId, spiffeIdOfCertificate, tryParseSpiffeId } from '../../identity/spiffe.ts';
import type { MeshSnapshot } from '../../model/types.ts';
import type { XdsMetrics } from '../../observe/control-plane-metrics.ts';
import { type Logger, logger } from '../../observe/log.ts';
import {
  adsService,
  type DeltaDiscoveryRequestMessage,
  type DeltaDiscoveryResponseMessage,
  type DiscoveryRequestMessage,
  decodeDiscoveryRequest,
} from '../../xds/discovery.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import type { WorkloadRegistry } from '../registry/registry.ts';
import { FULL_STATE_TYPES, GENERATORS } from './generate/index.ts';
import {
  GRPC_STATUS,
  type GrpcCallHandlers,
  GrpcServer,
  type GrpcServerCall,
  type ServerTlsSource,
} from './grpc-server.ts';
import { type ProxyNode, proxyFromNode, workloadFromProxy } from './node.ts';
import { type EncodedResource, namesKey, type ResourceSet, SnapshotResources } from './resources.ts';
import { type Subscription, SubscriptionTable } from './subscriptions.ts';
import type { ProxyStatus, XdsServer } from './types.ts';

/** Options of `createXdsServer`. */
export interface XdsServerOptions {
  /** Where weft sidecars are registered: `join` on a stream's first request, `leave` when it ends. */
  registry?: WorkloadRegistry;
  /** Quiet time after the last `setSnapshot` before pushing, in milliseconds (default 100). */
  debounceMs?: number;
  /** Longest a push is delayed under a steady stream of snapshots, in milliseconds (default 10 × debounceMs). */
  maxDebounceMs?: number;
  /** Logger (default: the process logger with `component: 'xds'`). */
  log?: Logger;
  /** Where pushes, NACKs and push times are reported (the control plane's /metrics). */
  metrics?: XdsMetrics;
  /**
   * Mutual TLS on `listen` (the control plane's certificate; clients must present a mesh
   * certificate). Each stream's namespace and service account are then taken from the verified
   * peer certificate, and node metadata that contradicts them is refused. Streams without a peer
   * certificate (only `listenPlaintext` accepts them) are read-only: they register nothing.
   * Absent: plaintext, node metadata trusted (tests of the protocol only).
   */
  tls?: { credentials: ServerTlsSource; trustDomain: string };
  /**
   * Bytes written to a stream and not yet taken by its connection above which the stream counts
   * as congested: further responses are held and only the latest state is sent when it drains
   * (default 1 MiB).
   */
  writeQueueBytes?: number;
}

/** Counters kept by the server (exported as metrics by a later change). */
export interface XdsCounters {
  /** Responses sent. */
  pushes: number;
  /** Push rounds after a snapshot (one per debounced batch). */
  pushRounds: number;
  /** Push rounds in which only endpoints changed, so only EDS was pushed (Istio's EDS-only push). */
  edsOnlyRounds: number;
  /** Generator calls per type URL since start (each generates what one part key or name needs). */
  generated: Map<string, number>;
  acks: number;
  nacks: number;
  /** Requests with a stale nonce, ignored. */
  staleRequests: number;
  /** Streams accepted since start. */
  streams: number;
}

/** One subscribed type on one stream. */
interface Watch {
  typeUrl: string;
  /** Subscribed to everything of this type (LDS/CDS with no names, or `*`). */
  wildcard: boolean;
  names: Set<string>;
  /** `namesKey(names)`, kept in step with `names`. */
  namesKey: string;
  /** The encoded names of the state-of-the-world request that set `names` (to recognise an ACK repeating them). */
  namesBytes?: Buffer;
  /** State of the world: the shared subscription `names`, `namesKey` and `namesBytes` come from (kept alive by it). */
  subscription?: Subscription;
  /**
   * Resource name → hash of what the client was last sent (named types and the incremental
   * protocol; a full-state type's state-of-the-world watch keeps only `count`).
   */
  sent: Map<string, string>;
  /** Resources the client holds of this type (what was last sent). */
  count: number;
  responded: boolean;
  /** Version of the set the client was last brought up to date with (the push fast path). */
  current?: string;
  nonce?: string;
  sentVersion?: string;
  ackedVersion?: string;
  nack?: { version: string; message: string; at: string };
  /**
   * A response held back while the stream was congested (`force`: it must be sent even if
   * unchanged); sent, from the snapshot current then, when the stream drains.
   */
  deferred?: 'force' | 'changed';
  /** Incremental: names subscribed while deferred, to report as removed if they do not exist. */
  deferredNames?: string[];
}

type Protocol = 'sotw' | 'delta';

/** One ADS stream. */
interface Connection {
  id: number;
  protocol: Protocol;
  call: GrpcServerCall;
  peer: string;
  connectedAt: string;
  proxy?: ProxyNode;
  /** The verified peer identity (mutual TLS), when there is one. */
  peerId?: SpiffeId;
  /** A stream that may read configuration but registers no workload (no verified peer). */
  readOnly: boolean;
  workloadUid?: string;
  watches: Map<string, Watch>;
  /** The push round that last brought this stream up to date (0: none yet). */
  pushedRound: number;
  closed: boolean;
}

const DEFAULT_DEBOUNCE_MS = 100;
/** Streams served per turn of the event loop during a push. */
const PUSH_SLICE = 50;

/** The ADS server (see docs/xds.md, "Protocol behaviour"). */
export class AdsServer implements XdsServer {
  readonly counters: XdsCounters = {
    pushes: 0,
    pushRounds: 0,
    edsOnlyRounds: 0,
    generated: new Map(),
    acks: 0,
    nacks: 0,
    staleRequests: 0,
    streams: 0,
  };
  readonly #registry: WorkloadRegistry | undefined;
  readonly #debounceMs: number;
  readonly #maxDebounceMs: number;
  readonly #log: Logger;
  readonly #metrics: XdsMetrics | undefined;
  readonly #tls: XdsServerOptions['tls'];
  readonly #server: GrpcServer;
  readonly #connections = new Set<Connection>();
  readonly #workloadStreams = new Map<string, number>();
  readonly #warned = new Set<string>();
  readonly #subscriptions = new SubscriptionTable();
  #resources: SnapshotResources | undefined;
  #pending: MeshSnapshot | undefined;
  #pendingSince = 0;
  #timer: NodeJS.Timeout | undefined;
  #nextId = 1;
  #nonces = 0;
  #closed = false;

  constructor(options: XdsServerOptions = {}) {
    this.#registry = options.registry;
    this.#debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.#maxDebounceMs = options.maxDebounceMs ?? Math.max(this.#debounceMs * 10, this.#debounceMs);
    this.#log = options.log ?? logger({ component: 'xds' });
    this.#metrics = options.metrics;
    this.#tls = options.tls;
    this.#server = new GrpcServer({
      methods: new Map([
        [adsService.StreamAggregatedResources.path, (call) => this.#accept(call, 'sotw')],
        [adsService.DeltaAggregatedResources.path, (call) => this.#accept(call, 'delta')],
      ]),
      queueLimitBytes: options.writeQueueBytes,
    });
  }

  /** Binds the xDS port: mutual TLS when `options.tls` is set, else plaintext. */
  listen(host: string, port: number): Promise<number> {
    return this.#bind(host, port, this.#tls?.credentials, 'xDS');
  }

  /** Binds a plaintext port whose streams are read-only (proxyless gRPC clients without TLS). */
  listenPlaintext(host: string, port: number): Promise<number> {
    return this.#bind(host, port, undefined, 'read-only plaintext xDS');
  }

  async #bind(host: string, port: number, tls: ServerTlsSource | undefined, what: string): Promise<number> {
    const bound = await this.#server.listen(host.replace(/^\[|\]$/g, ''), port, tls);
    this.#log.info({ address: `${host}:${bound}` }, `${what} server listening`);
    return bound;
  }

  setSnapshot(snapshot: MeshSnapshot): void {
    if (this.#closed) return;
    const now = Date.now();
    if (!this.#pending) this.#pendingSince = now;
    this.#pending = snapshot;
    if (this.#timer) clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#pendingSince + this.#maxDebounceMs - now));
    this.#timer = setTimeout(() => this.#flush(), wait);
  }

  /** The snapshot streams are currently served from (after the debounce). */
  currentSnapshot(): MeshSnapshot | undefined {
    return this.#resources?.snapshot;
  }

  status(): ProxyStatus[] {
    const out: ProxyStatus[] = [];
    for (const conn of this.#connections) {
      if (!conn.proxy) continue;
      const types: ProxyStatus['types'] = {};
      for (const watch of conn.watches.values()) {
        types[watch.typeUrl] = {
          sent: watch.sentVersion,
          acked: watch.ackedVersion,
          nack: watch.nack,
          resources: watch.count,
        };
      }
      out.push({
        nodeId: conn.proxy.id,
        cluster: conn.proxy.cluster,
        peer: conn.peer,
        adminPort: conn.proxy.adminPort,
        protocol: conn.protocol,
        connectedAt: conn.connectedAt,
        types,
      });
    }
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  /** The weft proxies connected now, with the peer address of each stream. */
  connectedProxies(): { proxy: ProxyNode; peer: string }[] {
    const out: { proxy: ProxyNode; peer: string }[] = [];
    for (const conn of this.#connections) if (conn.proxy) out.push({ proxy: conn.proxy, peer: conn.peer });
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const conn of this.#connections) this.#cleanup(conn);
    await this.#server.close();
  }

  #flush(): void {
    this.#timer = undefined;
    const snapshot = this.#pending;
    const changedAt = this.#pendingSince;
    this.#pending = undefined;
    if (!snapshot || this.#closed) return;
    const previous = this.#resources;
    const resources = new SnapshotResources(snapshot, (key, message) => this.#warnOnce(key, message), {
      previous,
      calls: this.counters.generated,
      nonce: () => this.#nextNonce(),
    });
    this.#resources = resources;
    this.counters.pushRounds++;
    if (resources.endpointsOnly) this.counters.edsOnlyRounds++;
    const round = this.counters.pushRounds;
    const started = performance.now();
    // Streams a superseded round did not reach go first: under a steady stream of snapshots
    // (each starting a round) the last streams of the list would otherwise never be pushed.
    const connections = [...this.#connections].sort((a, b) => a.pushedRound - b.pushedRound);
    // Push in slices, yielding between them, so early clients get (and ACK) their update while
    // later ones are still being served, and requests are not starved by a large push.
    const slice = (from: number): void => {
      if (this.#closed || round !== this.counters.pushRounds) return;
      const to = Math.min(connections.length, from + PUSH_SLICE);
      for (let i = from; i < to; i++) {
        const conn = connections[i];
        // EDS alone is enough only for a stream the previous round reached: one it did not (a
        // round superseded before its turn) may lack that round's other types.
        this.#pushAll(conn, resources.endpointsOnly && conn.pushedRound === round - 1);
        conn.pushedRound = round;
        if (conn.proxy) this.#metrics?.converged((Date.now() - changedAt) / 1000);
      }
      if (to < connections.length) {
        setImmediate(() => slice(to));
        return;
      }
      this.#metrics?.pushRound((performance.now() - started) / 1000);
      this.#log.debug(
        {
          version: snapshot.version,
          endpointsOnly: resources.endpointsOnly,
          streams: connections.length,
          ms: Math.round(performance.now() - started),
        },
        'pushed snapshot',
      );
    };
    slice(0);
  }

  /** Nonces name responses, unique in this server's life (a response encoded once goes to many streams). */
  #nextNonce(): string {
    return String(++this.#nonces);
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#log.warn({ key }, message);
  }

  #accept(call: GrpcServerCall, protocol: Protocol): GrpcCallHandlers {
    const ignore = () => {};
    if (this.#closed) {
      call.end(GRPC_STATUS.unavailable, 'the xDS server is shutting down');
      return { message: ignore, halfClose: ignore, close: ignore, drain: ignore };
    }
    const verified = this.#tls !== undefined && call.secure && call.peerCertificate !== undefined;
    const peerUri = verified ? spiffeIdOfCertificate(call.peerCertificate) : undefined;
    const conn: Connection = {
      id: this.#nextId++,
      protocol,
      call,
      peer: call.peer,
      connectedAt: new Date().toISOString(),
      peerId: peerUri === undefined ? undefined : tryParseSpiffeId(peerUri),
      readOnly: this.#tls !== undefined && !verified,
      watches: new Map(),
      pushedRound: 0,
      closed: false,
    };
    this.#connections.add(conn);
    this.counters.streams++;
    const decode =
      protocol === 'sotw'
        ? (bytes: Buffer) => decodeDiscoveryRequest(bytes, knownNames(conn))
        : decodeDeltaRequest;
    return {
      message: (bytes) => {
        let request: DiscoveryRequestMessage | DeltaDiscoveryRequestMessage;
        try {
          request = decode(bytes);
        } catch (err) {
          this.#fail(conn, GRPC_STATUS.internal, `could not decode the request: ${(err as Error).message}`);
          return;
        }
        try {
          if (!this.#identify(conn, request.node)) return;
          if (protocol === 'sotw') this.#onRequest(conn, request as DiscoveryRequestMessage);
          else this.#onDeltaRequest(conn, request as DeltaDiscoveryRequestMessage);
        } catch (err) {
          this.#log.error({ err, node: conn.proxy?.id }, 'xDS request failed');
          this.#fail(conn, GRPC_STATUS.internal, `weft control plane: ${(err as Error).message}`);
        }
      },
      halfClose: () => {
        this.#cleanup(conn);
        call.end();
      },
      close: () => this.#cleanup(conn),
      drain: () => this.#resume(conn),
    };
  }

  /** Reads the node on a stream's first request; false when the stream was refused. */
  #identify(conn: Connection, node: DiscoveryRequestMessage['node']): boolean {
    if (conn.proxy) return true;
    let proxy: ProxyNode;
    try {
      proxy = proxyFromNode(node);
      this.#checkIdentity(conn, proxy);
    } catch (err) {
      if (!(err instanceof XdsNodeInvalidError || err instanceof XdsIdentityError)) throw err;
      this.#log.warn({ peer: conn.peer, nodeId: node?.id }, `xDS stream refused: ${err.message}`);
      const code =
        err instanceof XdsIdentityError ? GRPC_STATUS.permissionDenied : GRPC_STATUS.invalidArgument;
      this.#fail(conn, code, `${err.code}: ${err.message}`);
      return false;
    }
    conn.proxy = proxy;
    this.#log.info(
      {
        node: proxy.id,
        kind: proxy.kind,
        namespace: proxy.namespace,
        peer: conn.peer,
        protocol: conn.protocol,
      },
      'xDS stream connected',
    );
    if (proxy.kind === 'sidecar' && this.#registry && !conn.readOnly) {
      const workload = workloadFromProxy(proxy, conn.peer);
      conn.workloadUid = workload.uid;
      this.#workloadStreams.set(workload.uid, (this.#workloadStreams.get(workload.uid) ?? 0) + 1);
      this.#registry.join(workload);
    }
    return true;
  }

  /**
   * On a mutual-TLS stream the namespace and service account come from the verified certificate:
   * node metadata naming others is refused (a workload cannot register as another's endpoint or
   * read its configuration). A read-only plaintext stream is not checked; it registers nothing.
   */
  #checkIdentity(conn: Connection, proxy: ProxyNode): void {
    if (!this.#tls || conn.readOnly) return;
    const id = conn.peerId;
    if (!id) throw new XdsIdentityError('the client certificate carries no SPIFFE ID');
    if (id.trustDomain !== this.#tls.trustDomain)
      throw new XdsIdentityError(
        `the client certificate is for trust domain ${id.trustDomain}, this mesh's is ${this.#tls.trustDomain}`,
      );
    if (
      id.namespace !== proxy.namespace ||
      (proxy.kind === 'sidecar' && id.serviceAccount !== proxy.serviceAccount)
    )
      throw new XdsIdentityError(
        `node ${proxy.id} claims namespace ${proxy.namespace}, service account ${proxy.serviceAccount}, but its certificate is for ns/${id.namespace}/sa/${id.serviceAccount}`,
      );
  }

  #fail(conn: Connection, code: number, details: string): void {
    this.#cleanup(conn);
    conn.call.end(code, details);
  }

  #cleanup(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#connections.delete(conn);
    if (conn.proxy) this.#log.info({ node: conn.proxy.id, peer: conn.peer }, 'xDS stream closed');
    const uid = conn.workloadUid;
    if (uid && this.#registry) {
      const left = (this.#workloadStreams.get(uid) ?? 1) - 1;
      if (left > 0) this.#workloadStreams.set(uid, left);
      else {
        this.#workloadStreams.delete(uid);
        if (!this.#closed) this.#registry.leave(uid);
      }
    }
  }

  #newWatch(typeUrl: string): Watch {
    return {
      typeUrl,
      wildcard: false,
      names: new Set(),
      namesKey: '',
      sent: new Map(),
      count: 0,
      responded: false,
    };
  }

  #served(conn: Connection, typeUrl: string): boolean {
    if (GENERATORS.has(typeUrl)) return true;
    this.#warnOnce(
      `type/${typeUrl}`,
      `xDS client ${conn.proxy?.id} asked for ${typeUrl || '(no type)'}, which weft does not serve yet; ignored`,
    );
    return false;
  }

  #onRequest(conn: Connection, req: DiscoveryRequestMessage): void {
    const typeUrl = req.type_url ?? '';
    if (!this.#served(conn, typeUrl)) return;
    let watch = conn.watches.get(typeUrl);
    if (!watch) {
      const subscription = this.#subscriptions.of(req.resource_names_bytes, () => req.resource_names);
      watch = this.#newWatch(typeUrl);
      watch.wildcard = FULL_STATE_TYPES.has(typeUrl)
        ? subscription.names.size === 0 || subscription.star
        : false;
      adopt(watch, subscription);
      conn.watches.set(typeUrl, watch);
      this.#respond(conn, watch, true);
      return;
    }
    if ((req.response_nonce ?? '') !== (watch.nonce ?? '')) {
      this.counters.staleRequests++;
      return;
    }
    if (watch.nonce !== undefined) this.#recordAck(conn, watch, req.error_detail, req.version_info ?? '');
    // An ACK repeating a named subscription byte for byte (Envoy repeats it in every request).
    const bytes = req.resource_names_bytes;
    if (
      !watch.wildcard &&
      bytes !== undefined &&
      (watch.namesBytes === bytes || watch.namesBytes?.equals(bytes))
    )
      return;
    const subscription = this.#subscriptions.of(bytes, () => req.resource_names);
    const wildcard =
      FULL_STATE_TYPES.has(typeUrl) &&
      (subscription.star || (subscription.names.size === 0 && watch.wildcard));
    const same = wildcard === watch.wildcard && subscription.key === watch.namesKey;
    watch.wildcard = wildcard;
    adopt(watch, subscription);
    if (same) return;
    for (const name of watch.sent.keys())
      if (!wildcard && !subscription.names.has(name)) watch.sent.delete(name);
    this.#respond(conn, watch, false);
  }

  #onDeltaRequest(conn: Connection, req: DeltaDiscoveryRequestMessage): void {
    const typeUrl = req.type_url ?? '';
    if (!this.#served(conn, typeUrl)) return;
    const subscribe = req.resource_names_subscribe;
    let watch = conn.watches.get(typeUrl);
    if (!watch) {
      watch = this.#newWatch(typeUrl);
      watch.wildcard = subscribe.includes('*') || (subscribe.length === 0 && FULL_STATE_TYPES.has(typeUrl));
      for (const n of subscribe) if (n !== '*') watch.names.add(n);
      watch.namesKey = namesKey(watch.names);
      for (const [name, version] of Object.entries(req.initial_resource_versions))
        watch.sent.set(name, version);
      conn.watches.set(typeUrl, watch);
      this.#respondDelta(conn, watch, true, subscribe);
      return;
    }
    if (req.response_nonce) {
      if (req.response_nonce === watch.nonce)
        this.#recordAck(conn, watch, req.error_detail, watch.sentVersion ?? '');
      else this.counters.staleRequests++;
    }
    const added: string[] = [];
    for (const name of subscribe) {
      if (name === '*') watch.wildcard = true;
      else if (!watch.names.has(name)) {
        watch.names.add(name);
        added.push(name);
      }
    }
    let removed = false;
    for (const name of req.resource_names_unsubscribe) {
      if (name === '*') watch.wildcard = false;
      else watch.names.delete(name);
      removed = true;
    }
    if (added.length > 0 || removed) watch.namesKey = namesKey(watch.names);
    if (removed && !watch.wildcard) {
      for (const name of watch.sent.keys()) if (!watch.names.has(name)) watch.sent.delete(name);
    }
    if (added.length > 0 || subscribe.includes('*')) this.#respondDelta(conn, watch, false, added);
  }

  #recordAck(
    conn: Connection,
    watch: Watch,
    error: DiscoveryRequestMessage['error_detail'],
    version: string,
  ): void {
    if (error && (error.message || error.code)) {
      this.counters.nacks++;
      this.#metrics?.rejected(watch.typeUrl);
      watch.nack = {
        version: watch.sentVersion ?? '',
        message: error.message ?? '',
        at: new Date().toISOString(),
      };
      this.#log.warn(
        {
          node: conn.proxy?.id,
          type: watch.typeUrl,
          rejected: watch.sentVersion,
          kept: version,
          message: error.message,
        },
        'xDS NACK: the client rejected configuration',
      );
      return;
    }
    this.counters.acks++;
    watch.ackedVersion = version;
    watch.nack = undefined;
  }

  /** What a watch should hold now, from the current snapshot. */
  #desired(conn: Connection, watch: Watch): ResourceSet {
    const resources = this.#resources!;
    return watch.wildcard
      ? resources.resourceSet(conn.proxy!, watch.typeUrl)
      : resources.resourceSet(conn.proxy!, watch.typeUrl, watch.names, watch.namesKey);
  }

  /** Brings every watch of a stream up to date; after an endpoints-only change, only EDS (and unanswered watches). */
  #pushAll(conn: Connection, endpointsOnly: boolean): void {
    if (!conn.proxy || conn.closed) return;
    for (const typeUrl of GENERATORS.keys()) {
      const watch = conn.watches.get(typeUrl);
      if (!watch || (endpointsOnly && typeUrl !== TYPE_URL.endpoint && watch.responded)) continue;
      if (conn.protocol === 'sotw') this.#respond(conn, watch, !watch.responded);
      else this.#respondDelta(conn, watch, !watch.responded, []);
    }
  }

  /**
   * Holds a response back while the stream is congested (the client reads slower than it is
   * written to): the latest state is sent when it drains, so a slow client costs no queue of
   * versions and does not hold up the others.
   */
  #deferred(conn: Connection, watch: Watch, force: boolean): boolean {
    if (!conn.call.congested) return false;
    watch.deferred = force || watch.deferred === 'force' ? 'force' : 'changed';
    return true;
  }

  /** Sends what was held back while the stream was congested, in type order, until it congests again. */
  #resume(conn: Connection): void {
    if (!this.#resources || conn.closed) return;
    for (const typeUrl of GENERATORS.keys()) {
      const watch = conn.watches.get(typeUrl);
      if (!watch?.deferred) continue;
      if (conn.call.congested) return;
      const force = watch.deferred === 'force';
      const names = watch.deferredNames ?? [];
      watch.deferred = undefined;
      watch.deferredNames = undefined;
      if (conn.protocol === 'sotw') this.#respond(conn, watch, force);
      else this.#respondDelta(conn, watch, force, names);
    }
  }

  /** State of the world: sends the watch's resources if they changed for this client (or `force`). */
  #respond(conn: Connection, watch: Watch, force: boolean): void {
    if (!this.#resources || conn.closed || this.#deferred(conn, watch, force)) return;
    const set = this.#desired(conn, watch);
    if (!force && set.version === watch.current) return;
    const held = watch.current;
    watch.current = set.version;
    let toSend: readonly EncodedResource[] | undefined;
    if (FULL_STATE_TYPES.has(watch.typeUrl)) watch.count = set.size;
    else {
      // `sent` holds the set of version `held` (less names since unsubscribed): the changes from
      // that set are shared by every client that held it; otherwise compare with what was sent.
      const { resources } = set;
      const changes = this.#resources.changes(watch.typeUrl, held, set);
      if (changes) for (const name of changes.removed) watch.sent.delete(name);
      else for (const name of watch.sent.keys()) if (!resources.has(name)) watch.sent.delete(name);
      toSend = changes?.changed ?? [...resources.values()].filter((r) => watch.sent.get(r.name) !== r.hash);
      if (!force && toSend.length === 0) return;
      for (const r of toSend) watch.sent.set(r.name, r.hash);
      watch.count = watch.sent.size;
    }
    let response = this.#resources.response(watch.typeUrl, set, toSend);
    // The same response again on this stream (a re-request) needs a nonce of its own.
    if (response.nonce === watch.nonce) response = this.#resources.renonced(response);
    watch.nonce = response.nonce;
    watch.sentVersion = set.version;
    watch.responded = true;
    this.counters.pushes++;
    this.#metrics?.pushed(watch.typeUrl);
    conn.call.send(response.bytes);
  }

  /** Incremental: sends changed resources and removals since what the client has (or `force`). */
  #respondDelta(conn: Connection, watch: Watch, force: boolean, requested: readonly string[]): void {
    if (!this.#resources || conn.closed) return;
    if (this.#deferred(conn, watch, force)) {
      if (requested.length > 0) watch.deferredNames = [...(watch.deferredNames ?? []), ...requested];
      return;
    }
    const { resources, version } = this.#desired(conn, watch);
    const changed = [...resources.values()].filter((r) => watch.sent.get(r.name) !== r.hash);
    const removed = [...watch.sent.keys()].filter((name) => !resources.has(name));
    // Newly subscribed names that do not exist are reported as removed, so the client stops waiting.
    for (const name of requested)
      if (name !== '*' && !resources.has(name) && !removed.includes(name)) removed.push(name);
    if (!force && changed.length === 0 && removed.length === 0) return;
    for (const r of changed) watch.sent.set(r.name, r.hash);
    for (const name of removed) watch.sent.delete(name);
    watch.count = watch.sent.size;
    const nonce = this.#nextNonce();
    watch.nonce = nonce;
    watch.sentVersion = version;
    watch.responded = true;
    this.counters.pushes++;
    this.#metrics?.pushed(watch.typeUrl);
    const response: DeltaDiscoveryResponseMessage = {
      system_version_info: version,
      resources: changed.map((r) => ({ name: r.name, version: r.hash, resource: r.any })),
      type_url: watch.typeUrl,
      removed_resources: removed,
      nonce,
    };
    conn.call.send(encodeDeltaResponse(response));
  }
}

/** The encoded name lists of a stream's named subscriptions (an ACK repeating one is recognised whole). */
function knownNames(conn: Connection): Buffer[] {
  const known: Buffer[] = [];
  for (const watch of conn.watches.values()) if (watch.namesBytes) known.push(watch.namesBytes);
  return known;
}

/** Makes a state-of-the-world watch hold a (shared) subscription's names. */
function adopt(watch: Watch, subscription: Subscription): void {
  watch.subscription = subscription;
  watch.names = subscription.names;
  watch.namesKey = subscription.key;
  watch.namesBytes = subscription.bytes;
}

const decodeDeltaRequest = adsService.DeltaAggregatedResources.requestDeserialize;
const encodeDeltaResponse = adsService.DeltaAggregatedResources.responseSerialize;

/** Creates the ADS server; call `listen` to bind it and `setSnapshot` to feed it. */
export function createXdsServer(options: XdsServerOptions = {}): AdsServer {
  return new AdsServer(options);
}
