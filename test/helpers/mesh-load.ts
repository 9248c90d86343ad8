// Test helper: a steady request loop through a sidecar's outbound port that counts every failed request.
import http from 'node:http';
import { eventuallyTrue } from './eventually.ts';
import { request } from './http-client.ts';
import { startWeft, type WeftProcess } from './process.ts';

const PROXY_READY = /weft proxy ready: .* outbound 127\.0\.0\.1:(\d+) admin 127\.0\.0\.1:(\d+)/;

/** Starts `weft proxy --server SERVERS ...args` on free ports, adds it to `procs`, and returns its outbound and admin ports. */
export async function startSidecar(
  servers: string[],
  args: string[],
  procs: WeftProcess[],
): Promise<{ out: number; admin: number; proc: WeftProcess }> {
  const proc = await startWeft(
    [
      'proxy',
      '--server',
      servers.join(','),
      '--inbound-port',
      '0',
      '--outbound-port',
      '0',
      '--admin-port',
      '0',
      ...args,
    ],
    { ready: PROXY_READY, timeoutMs: 60_000 },
  );
  procs.push(proc);
  return { out: Number(proc.ready[1]), admin: Number(proc.ready[2]), proc };
}

/** Waits until `reviews` subset v2 answers 200 through the sidecar whose outbound port is `out`. */
export async function waitForSubset(out: number, what: string): Promise<void> {
  await eventuallyTrue(what, async () => {
    const res = await request(out, { host: 'reviews', path: '/', headers: { 'x-subset': 'v2' } });
    if (res.status !== 200) throw new Error(`${res.status} ${res.body.toString().slice(0, 120)}`);
    return true;
  });
}

/** A VirtualService that sends `x-subset: v2` to subset v2 of `reviews` (the rest to v1), and its DestinationRule. */
export const HEADER_ROUTE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-subset: {exact: v2}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

/** Hosts the sidecar with admin port `admin` has for `cluster` (its /clusters). */
export async function hostsOf(admin: number, cluster: string): Promise<number> {
  const res = await request(admin, { host: '127.0.0.1', path: '/clusters?format=json' });
  const body = JSON.parse(res.body.toString('utf8')) as {
    clusterStatuses: { name: string; hostStatuses: unknown[] }[];
  };
  return body.clusterStatuses.find((c) => c.name === cluster)?.hostStatuses.length ?? 0;
}

/** Number of sidecars the control plane at `server` has an ADS stream with. */
export async function connectedProxies(server: string): Promise<number> {
  const res = await fetch(`${server}/api/v1/proxies`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { proxies: unknown[] };
  return body.proxies.length;
}

/** What a load loop saw. */
export interface LoadResult {
  ok: number;
  /** Failed requests: status line and body start, or the socket error. */
  failures: string[];
}

/** A running loop; `stop()` waits for requests in flight and returns the tally. */
export interface LoadLoop {
  stop(): Promise<LoadResult>;
  /** Requests answered 200 so far. */
  ok(): number;
}

/**
 * Sends GETs to `127.0.0.1:port` with `headers` (Host names the mesh service), `concurrency` at a
 * time, back to back, until stopped. Anything but a 200 is a failure.
 */
export function startLoad(port: number, headers: Record<string, string>, concurrency = 2): LoadLoop {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { ok: 0, failures: [] };
  let running = true;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/', headers, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) result.ok++;
          else result.failures.push(`${res.statusCode} ${body.slice(0, 120)}`);
          resolve();
        });
      });
      req.on('error', (err) => {
        result.failures.push(`error ${err.message}`);
        resolve();
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
      req.end();
    });
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      await one();
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    ok: () => result.ok,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      agent.destroy();
      return result;
    },
  };
}
