// One table of router and filter cases (retries, budget, back-off, per-try timeout, fault, rate limit, RBAC, JWT)
// run through a real proxy core by HTTP/1.1, HTTP/2 and gRPC clients: every protocol must see the same outcome.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { grpcStatusFor } from '../../src/proxy/http/local-reply.ts';
import type { ProxyCore } from '../../src/proxy/proxy.ts';
import { coreWith, H2_OPTIONS, HCM, ROUTER, staticCluster, vhost } from './fixtures.ts';
import { epoch, jwks, makeKey, sign } from './jwt-helpers.ts';
import { viaWire } from './rbac-helpers.ts';

type Obj = Record<string, unknown>;
type Protocol = 'http1' | 'http2' | 'grpc';
const PROTOCOLS: Protocol[] = ['http1', 'http2', 'grpc'];

const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const RATELIMIT = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const JWT = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
const ISSUER = 'https://issuer.example';
const KEY = makeKey('ES256');
/** Every call is bounded: a hung call fails the test with this message instead of hanging it. */
const CALL_DEADLINE_MS = 15_000;

/** What one call saw. */
interface Seen {
  /** HTTP status of the answer; for a gRPC client, the gRPC status code. */
  status: number;
  flag: string | undefined;
}

// ---- backends: one h2c server per behaviour, speaking plain HTTP or gRPC as the request asks ----

type Mode = 'good' | 'fail' | 'hang';
const hits: { mode: Mode; at: number }[] = [];
const servers: http2.Http2Server[] = [];
const hung = new Set<http2.ServerHttp2Stream>();
const ports: Record<Mode, number> = { good: 0, fail: 0, hang: 0 };

/** A gRPC message frame (uncompressed) around `payload`. */
function frame(payload: Buffer): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt32BE(payload.length, 1);
  payload.copy(out, 5);
  return out;
}

async function startBackend(mode: Mode): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    hits.push({ mode, at: performance.now() });
    const isGrpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      if (mode === 'hang') {
        hung.add(stream);
        return;
      }
      if (mode === 'fail') {
        if (isGrpc)
          stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': '14',
              'grpc-message': 'down',
            },
            { endStream: true },
          );
        else stream.respond({ ':status': 503 }, { endStream: true });
        return;
      }
      if (!isGrpc) {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end('ok');
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame(Buffer.from('ok')));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

// ---- clients ----

function callHttp1(port: number, authority: string, path: string, headers: Obj): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { ...headers, host: authority },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, flag: res.headers['x-weft-response-flags'] as string }),
        );
      },
    );
    req.setTimeout(CALL_DEADLINE_MS, () => req.destroy(new Error(`HTTP/1.1 call to ${authority} hung`)));
    req.on('error', reject);
    req.end('ping');
  });
}

function callHttp2(port: number, authority: string, path: string, headers: Obj): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ':path': path, ':authority': authority, ...headers });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`HTTP/2 call to ${authority} hung`));
    }, CALL_DEADLINE_MS);
    let seen: Seen = { status: 0, flag: undefined };
    req.on('response', (h) => {
      seen = { status: Number(h[':status']), flag: h['x-weft-response-flags'] as string | undefined };
    });
    req.resume();
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve(seen);
    });
    req.on('error', reject);
    req.end('ping');
  });
}

/** What a gRPC client sees for an answer an HTTP client sees as `status` (Envoy's mapping for local replies). */
function asGrpc(expect: Seen): Seen {
  return { status: expect.status === 200 ? 0 : grpcStatusFor(expect.status), flag: expect.flag };
}

function callGrpc(port: number, authority: string, path: string, headers: Obj): Promise<Seen> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': authority,
  });
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, String(v));
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from('ping'),
      md,
      { deadline: Date.now() + CALL_DEADLINE_MS },
      (err) => {
        client.close();
        const flag = err?.metadata?.get('x-weft-response-flags')[0];
        resolve({ status: err ? err.code : 0, flag: flag === undefined ? undefined : String(flag) });
      },
    );
  });
}

const CALL: Record<Protocol, typeof callHttp1> = { http1: callHttp1, http2: callHttp2, grpc: callGrpc };

// ---- the cases ----

/** Counters of a case's cluster after its calls. */
interface Counted {
  attempts: number;
  retries: number;
  overflow: number;
  timeouts: number;
}

interface Case {
  name: string;
  /** Endpoints of the case's cluster (weights make the smooth round robin deterministic). */
  endpoints: { mode: Mode; weight?: number }[];
  cluster?: Obj;
  route?: Obj;
  /** typed_per_filter_config of the case's route for one protocol's vhost. */
  perFilter?: (p: Protocol) => Obj;
  path?: string;
  /** Calls in order: request headers, and the answer expected for each. */
  calls: { headers?: Obj; expect: Seen }[];
  counted: Counted;
}

const retryOn = { retryOn: 'retriable-status-codes,unavailable', retriableStatusCodes: [503] };
const pinnedRandom = 0.99;

const CASES: Case[] = [
  {
    name: 'retry',
    endpoints: [{ mode: 'fail', weight: 2 }, { mode: 'good' }],
    route: { retryPolicy: { ...retryOn, numRetries: { value: 2 } } },
    calls: [{ expect: { status: 200, flag: undefined } }],
    counted: { attempts: 2, retries: 1, overflow: 0, timeouts: 0 },
  },
  {
    name: 'retries-exhausted',
    endpoints: [{ mode: 'fail' }],
    route: { retryPolicy: { ...retryOn, numRetries: { value: 2 } } },
    calls: [{ expect: { status: 503, flag: undefined } }],
    counted: { attempts: 3, retries: 2, overflow: 0, timeouts: 0 },
  },
  {
    name: 'retry-budget',
    endpoints: [{ mode: 'fail' }],
    cluster: {
      circuitBreakers: {
        thresholds: [{ retryBudget: { budgetPercent: { value: 0 }, minRetryConcurrency: { value: 0 } } }],
      },
    },
    route: { retryPolicy: { ...retryOn, numRetries: { value: 2 } } },
    calls: [{ expect: { status: 503, flag: undefined } }, { expect: { status: 503, flag: undefined } }],
    counted: { attempts: 2, retries: 0, overflow: 2, timeouts: 0 },
  },
  {
    name: 'back-off',
    endpoints: [{ mode: 'fail', weight: 2 }, { mode: 'good' }],
    route: {
      retryPolicy: {
        ...retryOn,
        numRetries: { value: 1 },
        retryBackOff: { baseInterval: { nanos: 200_000_000 }, maxInterval: { nanos: 200_000_000 } },
      },
    },
    calls: [{ expect: { status: 200, flag: undefined } }],
    counted: { attempts: 2, retries: 1, overflow: 0, timeouts: 0 },
  },
  {
    name: 'per-try-timeout',
    endpoints: [{ mode: 'hang', weight: 2 }, { mode: 'good' }],
    // The good host's attempt runs under the same per-try timeout: long enough for a busy machine.
    route: {
      timeout: { seconds: 10 },
      retryPolicy: { retryOn: 'gateway-error', numRetries: { value: 1 }, perTryTimeout: { seconds: 2 } },
    },
    calls: [{ expect: { status: 200, flag: undefined } }],
    counted: { attempts: 2, retries: 1, overflow: 0, timeouts: 1 },
  },
  {
    name: 'per-try-timeout-exhausted',
    endpoints: [{ mode: 'hang' }],
    route: {
      timeout: { seconds: 10 },
      retryPolicy: {
        retryOn: 'gateway-error',
        numRetries: { value: 1 },
        perTryTimeout: { nanos: 150_000_000 },
      },
    },
    calls: [{ expect: { status: 504, flag: 'UT' } }],
    counted: { attempts: 2, retries: 1, overflow: 0, timeouts: 2 },
  },
  {
    name: 'fault-abort',
    endpoints: [{ mode: 'good' }],
    perFilter: () => ({
      'envoy.filters.http.fault': {
        '@type': FAULT,
        abort: { httpStatus: 503, percentage: { numerator: 100 } },
      },
    }),
    calls: [{ expect: { status: 503, flag: 'FI' } }],
    counted: { attempts: 0, retries: 0, overflow: 0, timeouts: 0 },
  },
  {
    name: 'fault-delay',
    endpoints: [{ mode: 'good' }],
    perFilter: () => ({
      'envoy.filters.http.fault': {
        '@type': FAULT,
        delay: { fixedDelay: { nanos: 100_000_000 }, percentage: { numerator: 100 } },
      },
    }),
    calls: [{ expect: { status: 200, flag: undefined } }],
    counted: { attempts: 1, retries: 0, overflow: 0, timeouts: 0 },
  },
  {
    name: 'rate-limit',
    endpoints: [{ mode: 'good' }],
    // Buckets are shared by stat prefix: one per protocol, so that each starts full.
    perFilter: (p) => ({
      'envoy.filters.http.local_ratelimit': {
        '@type': RATELIMIT,
        statPrefix: `parity_${p}`,
        tokenBucket: { maxTokens: 1, tokensPerFill: { value: 1 }, fillInterval: { seconds: 3600 } },
        filterEnabled: { defaultValue: { numerator: 100, denominator: 'HUNDRED' } },
        filterEnforced: { defaultValue: { numerator: 100, denominator: 'HUNDRED' } },
      },
    }),
    calls: [{ expect: { status: 200, flag: undefined } }, { expect: { status: 429, flag: 'RL' } }],
    counted: { attempts: 1, retries: 0, overflow: 0, timeouts: 0 },
  },
  {
    name: 'rbac',
    endpoints: [{ mode: 'good' }],
    path: '/admin.Echo/Call',
    calls: [{ expect: { status: 403, flag: undefined } }],
    counted: { attempts: 0, retries: 0, overflow: 0, timeouts: 0 },
  },
  {
    name: 'jwt',
    endpoints: [{ mode: 'good' }],
    path: '/secure.Echo/Call',
    calls: [
      { expect: { status: 401, flag: undefined } },
      { headers: { authorization: 'Bearer not.a.token' }, expect: { status: 401, flag: undefined } },
      {
        headers: { authorization: `Bearer ${sign(KEY, { iss: ISSUER, sub: 'alice', exp: epoch(600) })}` },
        expect: { status: 200, flag: undefined },
      },
    ],
    counted: { attempts: 1, retries: 0, overflow: 0, timeouts: 0 },
  },
];

// ---- the proxy ----

let core: ProxyCore;
let port = 0;

function clusterName(c: Case, p: Protocol): string {
  return `${c.name}-${p}`;
}

function listener(): Obj {
  const jwt = viaWire(JWT, {
    providers: { p: { issuer: ISSUER, local_jwks: { inline_string: jwks(KEY) } } },
    rules: [{ match: { prefix: '/secure' }, requires: { provider_name: 'p' } }],
  });
  const rbac = viaWire(RBAC, {
    rules: {
      action: 'DENY',
      policies: {
        'no-admin': {
          permissions: [{ url_path: { path: { prefix: '/admin' } } }],
          principals: [{ any: true }],
        },
      },
    },
  });
  return {
    name: 'parity',
    address: { socketAddress: { address: '127.0.0.1', portValue: 0 } },
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: {
              '@type': HCM,
              statPrefix: 'parity',
              codecType: 'AUTO',
              rds: { configSource: { ads: {} }, routeConfigName: 'parity' },
              httpFilters: [
                { name: 'envoy.filters.http.jwt_authn', typedConfig: { '@type': JWT, ...jwt } },
                { name: 'envoy.filters.http.rbac', typedConfig: { '@type': RBAC, ...rbac } },
                { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT } },
                {
                  name: 'envoy.filters.http.local_ratelimit',
                  typedConfig: { '@type': RATELIMIT, statPrefix: 'parity_listener' },
                },
                { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } },
              ],
            },
          },
        ],
      },
    ],
  };
}

before(async () => {
  for (const mode of ['good', 'fail', 'hang'] as Mode[]) ports[mode] = await startBackend(mode);
  const clusters: Obj[] = [];
  const hosts: Obj[] = [];
  for (const c of CASES)
    for (const p of PROTOCOLS) {
      const name = clusterName(c, p);
      const endpoints = c.endpoints.map((e) => ({ port: ports[e.mode], weight: e.weight }));
      clusters.push(
        staticCluster(name, endpoints, { typedExtensionProtocolOptions: H2_OPTIONS, ...c.cluster }),
      );
      const route: Obj = { match: { prefix: '/' }, route: { cluster: name, timeout: {}, ...c.route } };
      if (c.perFilter) route.typedPerFilterConfig = c.perFilter(p);
      hosts.push(vhost(name, 80, [route]));
    }
  core = await coreWith({
    listeners: [listener()],
    clusters,
    routes: [{ name: 'parity', virtualHosts: hosts }],
  });
  port = core.listeners.get('parity')!.port;
});

after(async () => {
  core?.destroy();
  for (const s of hung) s.close();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
});

describe('the same cases give the same outcomes over HTTP/1.1, HTTP/2 and gRPC', () => {
  for (const c of CASES)
    test(c.name, async (t) => {
      if (c.name === 'back-off') t.mock.method(Math, 'random', () => pinnedRandom);
      const results: Record<string, { seen: Seen[]; counted: Counted }> = {};
      for (const p of PROTOCOLS) {
        const name = clusterName(c, p);
        const firstHit = hits.length;
        const started = performance.now();
        const seen: Seen[] = [];
        for (const call of c.calls)
          seen.push(await CALL[p](port, `${name}:80`, c.path ?? '/parity.Echo/Call', call.headers ?? {}));
        const stats = core.clusters.get(name)!.stats;
        results[p] = {
          seen,
          counted: {
            attempts: stats.rqTotal,
            retries: stats.rqRetry,
            overflow: stats.rqRetryOverflow,
            timeouts: stats.rqTimeout,
          },
        };
        if (c.name === 'back-off') {
          const [first, second] = hits.slice(firstHit);
          // Back-off is uniform below the 200 ms ceiling; Math.random pinned at 0.99 makes it 198 ms.
          assert.ok(second.at - first.at >= 190, `${p}: retry after ${second.at - first.at} ms`);
        }
        if (c.name === 'fault-delay') assert.ok(performance.now() - started >= 95, `${p}: delayed`);
      }
      for (const p of PROTOCOLS) {
        const seen = c.calls.map((k) => (p === 'grpc' ? asGrpc(k.expect) : k.expect));
        assert.deepEqual(results[p], { seen, counted: c.counted }, `${c.name} over ${p}`);
      }
    });
});
