// One bound listener: accepts connections, inspects first bytes, picks a filter chain, hands the socket over.

import type net from 'node:net';
import type tls from 'node:tls';
import type { ProxyTelemetry } from '../../observe/proxy-telemetry.ts';
import type { ClusterManager } from '../cluster/cluster-manager.ts';
import { processScope } from '../common/compile-scope.ts';
import { nameTableOf, vipKey } from '../dns/name-table.ts';
import { HttpConnectionManager } from '../http/connection-manager.ts';
import type { HttpStatsRegistry } from '../http/http-stats.ts';
import { requestHardeningHooks } from '../http/request-hardening.ts';
import type { RouteTable, VirtualHost } from '../http/router/route-table.ts';
import { StreamTelemetry } from '../http/telemetry/stream-telemetry.ts';
import { overloadHooks } from '../overload/overload-hooks.ts';
import type { OverloadManager } from '../overload/overload-manager.ts';
import { QUIET_MS, type Speculation } from '../tcp/speculation.ts';
import { TcpProxy, type TcpStats } from '../tcp/tcp-proxy.ts';
import { DownstreamTls, readFirstBytes } from '../tls/downstream.ts';
import type { SecretStore } from '../tls/secrets.ts';
import { tlsStats } from '../tls/tls-stats.ts';
import { forwardCaptured, routeCapturedToService } from './captured.ts';
import { ConnectionLimit } from './connection-limit.ts';
import { admitConnection } from './connection-limit-filter.ts';
import { type Detected, detectAtTimeout, detectProtocol } from './detect.ts';
import { type FilterChainConfig, type ListenerConfig, selectChain } from './listener-config.ts';
import type { OriginalDestination } from './original-dst.ts';
import { readSni, type SniResult } from './sni.ts';

/** What a listener needs from the rest of the proxy. */
export interface ListenerDeps {
  clusters: ClusterManager;
  /** Current RouteConfiguration by RDS name. */
  route(name: string): RouteTable | undefined;
  httpStats: HttpStatsRegistry;
  tcpStats(prefix: string): TcpStats;
  /** TLS secrets by SDS name, for chains that terminate TLS. */
  secrets: SecretStore;
  /** The proxy core whose counters (TLS) this listener adds to; default the process's own scope. */
  statsScope?: object;
  /** Istio's metrics and the proxy's own workload labels. */
  telemetry: ProxyTelemetry;
  /** Most connections open at once on each listener (`--max-connections`); absent: no limit. */
  maxConnections?: number;
  /** The overload manager whose actions refuse requests and connections (`--max-heap-mb`). */
  overload?: OverloadManager;
  /**
   * Transparent capture (`weft run --capture`): the original destination of a connection to an
   * outbound listener; a redirected one is forwarded there (`captured.ts`) instead of served.
   */
  originalDestination?: (socket: net.Socket) => Promise<OriginalDestination | undefined>;
}

type ChainRuntime = HttpConnectionManager | TcpProxy;

/** How long `inspect` waits, and where a silent connection is speculatively connected. */
interface InspectOptions {
  /** The connection manager's idle_timeout, when it bounds the wait (ms). */
  idleMs?: number;
  /** Overrides the wait (ms; 0 = no limit). */
  timeoutMs?: number;
  /** The tcp_proxy a server-first app is reached through. */
  speculate?: TcpProxy;
}

const EMPTY: Buffer = Buffer.alloc(0);
/** Most connections held before a listener's first config; more are refused (downstream_cx_overflow). */
const MAX_HELD = 1024;
/** How long a connection is held waiting for the first config (Envoy's listener_filters_timeout default). */
const HOLD_TIMEOUT_MS = 15_000;

export class Listener {
  readonly server: net.Server;
  private readonly deps: ListenerDeps;
  config!: ListenerConfig;
  private chains = new Map<FilterChainConfig, ChainRuntime>();
  /** TLS termination of the chains that have a transport_socket. */
  private terminators = new Map<FilterChainConfig, DownstreamTls>();
  /** Runtimes of replaced configs, still serving their connections. */
  private readonly retired: ChainRuntime[] = [];
  /** Connections accepted before the first config (held, then dispatched). */
  private held: net.Socket[] = [];
  private draining = false;
  /** Connections accepted in total (downstream_cx_total of the listener). */
  accepted = 0;
  /** Connections closed while held or before their first bytes (downstream_pre_cx_timeout). */
  preConnectionTimeouts = 0;
  /** Connections refused because too many were held before the first config (downstream_cx_overflow). */
  overflow = 0;
  /** Open connections, bounded by `--max-connections` (over it: downstream_cx_overflow). */
  readonly limit: ConnectionLimit;
  /** Connections closed at once under the stop_accepting_connections overload action (downstream_cx_overload_reject). */
  overloadRejected = 0;

  /** Bounds on connections held before the first config (defaults MAX_HELD, HOLD_TIMEOUT_MS). */
  private readonly holding: { maxHeld: number; holdTimeoutMs: number };

  constructor(server: net.Server, deps: ListenerDeps, holding: Partial<Listener['holding']> = {}) {
    this.server = server;
    this.deps = deps;
    this.holding = {
      maxHeld: holding.maxHeld ?? MAX_HELD,
      holdTimeoutMs: holding.holdTimeoutMs ?? HOLD_TIMEOUT_MS,
    };
    this.limit = new ConnectionLimit(deps.maxConnections);
    server.on('connection', this.onConnection);
  }

  /** Installs a new config; new connections use it, existing ones keep theirs. */
  setConfig(config: ListenerConfig): void {
    const old = this.chains;
    const changed = config.fingerprint === undefined || this.config?.fingerprint !== config.fingerprint;
    this.config = config;
    this.chains = new Map();
    this.terminators = new Map();
    const all = config.defaultChain ? [...config.filterChains, config.defaultChain] : config.filterChains;
    for (const chain of all) {
      const rt = this.buildRuntime(chain);
      this.chains.set(chain, rt);
      if (chain.tls) this.terminators.set(chain, this.buildTerminator(chain, rt));
    }
    // Connections accepted under the old config keep it until they close (no request is cut);
    // HTTP ones are drained as Envoy drains a changed listener: busy kept-alive connections close
    // after their current response, idle plaintext ones are handed to the new config, so every
    // later request meets the new config (rate limits, authz) and none is reset.
    // A listener re-sent unchanged (state-of-the-world LDS) drains nothing.
    for (const rt of old.values()) {
      if (changed && rt instanceof HttpConnectionManager) rt.drainReplaced(this.redispatch);
      this.retired.push(rt);
    }
    // Replaced runtimes stay only while they still carry connections.
    for (let i = this.retired.length - 1; i >= 0; i--)
      if (this.retired[i].connections === 0) this.retired.splice(i, 1);
    const held = this.held;
    this.held = [];
    for (const s of held) if (!s.destroyed) this.dispatch(s);
  }

  private buildRuntime(chain: FilterChainConfig): ChainRuntime {
    const t = chain.terminal;
    if (t.kind === 'tcp')
      return new TcpProxy(
        t.tcp,
        this.deps.clusters,
        this.deps.tcpStats(t.tcp.statPrefix),
        this.deps.telemetry,
        chain.networkRbac,
      );
    const hcm = t.hcm;
    const inline = hcm.inlineRoutes;
    const rdsName = hcm.rdsName ?? '';
    const routes = inline ? () => inline : () => this.deps.route(rdsName);
    const manager = new HttpConnectionManager(
      hcm,
      routes,
      this.deps.clusters,
      this.deps.httpStats.get(hcm.statPrefix || this.config.name),
    );
    // First of the hooks: every later hook, filter and the router see the hardened request.
    manager.addHooks(requestHardeningHooks(hcm));
    const reporter = this.config.inbound ? 'destination' : 'source';
    manager.addHooks(new StreamTelemetry(hcm, this.deps.telemetry, reporter, manager.stats.prefix));
    if (this.deps.overload) manager.addHooks(overloadHooks(this.deps.overload, manager.stats));
    return manager;
  }

  /** TLS termination in front of a chain's runtime: HTTP gets the first decrypted bytes (codec choice). */
  private buildTerminator(chain: FilterChainConfig, rt: ChainRuntime): DownstreamTls {
    const name = `${this.config.address}_${this.port || this.config.port}`;
    const stats = tlsStats('listener', name, this.deps.statsScope ?? processScope());
    const where = `Listener ${this.config.name} filter chain ${chain.name}`;
    // A chain picked by the client's ALPN (a mesh client said what follows) needs no detection.
    const named = chain.match.applicationProtocols.length > 0;
    return new DownstreamTls(chain.tls!, this.deps.secrets, stats, where, (secure) => {
      if (rt instanceof TcpProxy) return rt.handle(secure, EMPTY);
      const tcp =
        this.config.httpInspector && !named
          ? this.serverFirstProxy(secure.localPort ?? this.config.port)
          : undefined;
      if (!tcp) return readFirstBytes(secure, (first) => rt.handle(secure, first));
      this.afterHandshake(secure, rt, tcp);
    });
  }

  /**
   * Detection again on the decrypted stream of a detected port (mTLS from another sidecar): HTTP
   * goes to the chain's connection manager, other bytes, and a server that speaks first, to the
   * listener's opaque-TCP chain.
   */
  private afterHandshake(secure: tls.TLSSocket, hcm: HttpConnectionManager, tcp: TcpProxy): void {
    this.inspect(
      secure,
      (buf, detected, _hello, spec) => {
        if (detected === 'http/1.1' || detected === 'http/1.0' || detected === 'h2c') {
          spec?.cancel();
          hcm.handle(secure, buf);
        } else if (spec) tcp.adopt(secure, spec, buf);
        else tcp.handle(secure, buf);
      },
      { timeoutMs: 0, speculate: tcp },
    );
  }

  /** The plaintext tcp_proxy that opaque bytes on `port` go to, if any (where a server-first app is reached). */
  private serverFirstProxy(port: number): TcpProxy | undefined {
    const chain = selectChain(this.config, port, 'raw_buffer', undefined);
    const rt = chain && !chain.tls ? this.chains.get(chain) : undefined;
    return rt instanceof TcpProxy ? rt : undefined;
  }

  private readonly onConnection = (socket: net.Socket): void => {
    this.accepted++;
    socket.on('error', noop);
    if (this.draining) {
      socket.destroy();
      return;
    }
    if (this.deps.overload?.stopAcceptingConnections) {
      this.overloadRejected++;
      socket.destroy();
      return;
    }
    if (!this.limit.admit(socket)) {
      this.overflow++;
      socket.destroy();
      return;
    }
    if (!this.config) {
      // Held until the first config arrives, bounded in number and in time.
      if (this.held.length >= this.holding.maxHeld) {
        this.overflow++;
        socket.destroy();
        return;
      }
      socket.pause();
      this.held.push(socket);
      const timer = setTimeout(() => {
        const at = this.held.indexOf(socket);
        if (at < 0) return;
        this.held.splice(at, 1);
        this.preConnectionTimeouts++;
        socket.destroy();
      }, this.holding.holdTimeoutMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
      return;
    }
    const lookup = this.deps.originalDestination;
    if (lookup && !this.config.inbound) this.dispatchCaptured(socket, lookup);
    else this.dispatch(socket);
  };

  /** Outbound with capture: a connection that was going elsewhere is forwarded there; one to this listener is served. */
  private dispatchCaptured(
    socket: net.Socket,
    lookup: NonNullable<ListenerDeps['originalDestination']>,
  ): void {
    socket.pause();
    lookup(socket).then((original) => {
      if (socket.destroyed) return;
      const own =
        !original ||
        (original.port === socket.localPort &&
          (/^127\./.test(original.address) || original.address === '::1'));
      if (own) {
        // Flowing starts on the next tick, after dispatch has its listeners on.
        socket.resume();
        this.dispatch(socket);
        return;
      }
      const service = this.capturedService(original);
      if (service)
        routeCapturedToService(socket, service, this.deps.clusters, (s, first) => {
          if (first.length > 0) s.unshift(first);
          this.dispatch(s);
        });
      else forwardCaptured(socket, original, this.deps.clusters);
    });
  }

  /** The service port whose VIP `original` is, by the routes of this listener's HTTP chain (the VIP is a domain of its virtual host). */
  private capturedService(original: OriginalDestination): VirtualHost | undefined {
    for (const rt of this.chains.values()) {
      if (!(rt instanceof HttpConnectionManager) || rt.config.rdsName === undefined) continue;
      const table = nameTableOf(this.deps.route(rt.config.rdsName));
      return table.vips.get(vipKey(original.address, original.port));
    }
    return undefined;
  }

  private dispatch(socket: net.Socket): void {
    const cfg = this.config;
    const port = socket.localPort ?? cfg.port;
    if (!cfg.httpInspector && !cfg.tlsInspector) {
      const chain = selectChain(cfg, port, 'raw_buffer', undefined);
      if (!chain) return void socket.destroy();
      const rt = this.chains.get(chain)!;
      if (rt instanceof TcpProxy && !chain.tls) {
        if (chain.connectionLimit && !admitConnection(chain.connectionLimit, socket)) return;
        rt.handle(socket, EMPTY);
        return;
      }
      // The HTTP codec (AUTO) needs the first bytes to tell HTTP/1.1 from HTTP/2; a client that
      // sends none is under the connection manager's idle_timeout meanwhile, as in Envoy. The
      // chain is chosen again once they arrive: a config installed meanwhile is the one to use.
      const idle = rt instanceof TcpProxy ? 0 : rt.config.idleTimeoutMs;
      this.inspect(socket, (buf) => this.toChain(socket, this.currentChain(chain, port), buf), {
        idleMs: idle,
      });
      return;
    }
    const speculate = cfg.httpInspector ? this.serverFirstProxy(port) : undefined;
    this.inspect(
      socket,
      (buf, detected, hello, spec) => {
        const transport = detected === 'tls' ? 'tls' : 'raw_buffer';
        const app =
          cfg.httpInspector && (detected === 'http/1.1' || detected === 'http/1.0' || detected === 'h2c')
            ? detected
            : undefined;
        // Against the config installed now: one may have replaced `cfg` while the bytes came.
        const chain = selectChain(this.config ?? cfg, port, transport, app, hello?.sni, hello?.alpn);
        if (spec && chain && !chain.tls && this.chains.get(chain) === speculate) {
          socket.removeListener('error', noop);
          return speculate!.adopt(socket, spec, buf);
        }
        spec?.cancel();
        if (!chain) return void socket.destroy();
        this.toChain(socket, chain, buf);
      },
      { speculate },
    );
  }

  /** `chain` if it is still installed, else the chain the current config picks for a raw connection. */
  private currentChain(chain: FilterChainConfig, port: number): FilterChainConfig | undefined {
    if (this.chains.has(chain) || this.config === undefined) return chain;
    return selectChain(this.config, port, 'raw_buffer', undefined);
  }

  private toChain(socket: net.Socket, chain: FilterChainConfig | undefined, buf: Buffer): void {
    if (!chain) return void socket.destroy();
    const rt = this.chains.get(chain);
    if (!rt) return void socket.destroy();
    if (chain.connectionLimit && !admitConnection(chain.connectionLimit, socket)) return;
    const terminator = this.terminators.get(chain);
    if (terminator) {
      terminator.accept(socket, buf);
      return;
    }
    socket.removeListener('error', noop);
    rt.handle(socket, buf);
  }

  /**
   * Reads until the protocol is known (or the listener-filter timeout), then calls `done`. With
   * the tls_inspector and chains that match server names, a TLS connection is read until its
   * ClientHello is complete, for its SNI.
   */
  private inspect(
    socket: net.Socket,
    done: (
      buf: Buffer,
      detected: Detected,
      hello: ClientHello | undefined,
      spec: Speculation | undefined,
    ) => void,
    opts: InspectOptions = {},
  ): void {
    let buf: Buffer = EMPTY;
    const filtersMs = this.config.listenerFiltersTimeoutMs;
    const idleMs = opts.idleMs ?? 0;
    // Without listener filters the wait is the connection manager's idle_timeout when shorter.
    const timeoutMs =
      opts.timeoutMs ?? (idleMs > 0 && (filtersMs === 0 || idleMs < filtersMs) ? idleMs : filtersMs);
    const continueOnTimeout = this.config.continueOnTimeout;
    // The ClientHello is read in full only when a chain's match needs its server name or ALPN.
    const wantsHello =
      this.config.tlsInspector &&
      this.config.filterChains.some(
        (c) =>
          c.match.serverNames.length > 0 ||
          (c.match.transportProtocol === 'tls' && c.match.applicationProtocols.length > 0),
      );
    let timer: NodeJS.Timeout | undefined;
    let quiet: NodeJS.Timeout | undefined;
    let spec: Speculation | undefined;
    let finished = false;
    const finish = (detected: Detected, hello?: ClientHello) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (quiet) clearTimeout(quiet);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.pause();
      done(buf, detected, hello, spec);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const d = detectProtocol(buf);
      if (d === 'tls' && wantsHello) {
        const hello = readSni(buf);
        if (hello.outcome === 'done') finish(d, hello);
      } else if (d !== 'need_more') finish(d);
    };
    const onEnd = () => finish(detectAtTimeout(buf));
    if (timeoutMs > 0)
      timer = setTimeout(() => {
        if (continueOnTimeout && timeoutMs === filtersMs) return finish(detectAtTimeout(buf));
        this.preConnectionTimeouts++;
        socket.destroy();
      }, timeoutMs);
    // No bytes after a quiet period: connect upstream on speculation; a server that speaks first
    // makes the connection opaque TCP (docs/design/protocol-detection.md).
    const proxy = opts.speculate;
    if (proxy)
      quiet = setTimeout(() => {
        if (buf.length === 0) spec = proxy.speculate(() => finish('raw'));
      }, QUIET_MS);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.once('close', () => {
      if (timer) clearTimeout(timer);
      if (quiet) clearTimeout(quiet);
      if (!finished) spec?.cancel();
    });
    socket.resume();
  }

  /** Stops accepting and drains every connection manager. */
  drain(): void {
    this.draining = true;
    this.server.close();
    for (const s of this.held) s.destroy();
    for (const rt of [...this.chains.values(), ...this.retired])
      if (rt instanceof HttpConnectionManager) rt.drain();
  }

  /**
   * An idle plaintext HTTP/1.1 connection of a replaced config goes to the chain the current config
   * picks for it; one that now needs TLS, or no chain, is closed as before.
   */
  private readonly redispatch = (socket: net.Socket): void => {
    const cfg = this.config;
    const app = cfg.httpInspector ? 'http/1.1' : undefined;
    const chain = this.draining
      ? undefined
      : selectChain(cfg, socket.localPort ?? cfg.port, 'raw_buffer', app);
    if (!chain || chain.tls) return void socket.end();
    socket.on('error', noop);
    this.toChain(socket, chain, EMPTY);
  };

  /** Open downstream connections. */
  get connections(): number {
    let n = 0;
    for (const rt of [...this.chains.values(), ...this.retired]) n += rt.connections;
    return n;
  }

  destroy(): void {
    this.server.close();
    for (const rt of [...this.chains.values(), ...this.retired]) rt.destroy();
  }

  /** The port actually bound. */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }
}

function noop(): void {}

/** What the tls_inspector read from a ClientHello. */
type ClientHello = Omit<Extract<SniResult, { outcome: 'done' }>, 'outcome'>;
