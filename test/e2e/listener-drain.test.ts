// A listener replaced by the control plane drains its kept-alive HTTP/1.1 and HTTP/2 connections: no request fails.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import { type Echo, startHttpEcho } from '../helpers/echo.ts';
import { eventually } from '../helpers/eventually.ts';
import { request } from '../helpers/http-client.ts';
import { type Mesh, type MeshSidecar, startMesh } from './mtls-mesh.ts';

/** How long one request of the loops may take before it counts as failed (a hang, not a slow machine). */
const REQUEST_TIMEOUT_MS = 20_000;
/** Listener changes made while the loops run. */
const CHANGES = 4;

let mesh: Mesh;
let app: Echo;
let reviews: MeshSidecar;
let client: MeshSidecar;

/** A MeshConfig whose path normalisation is a field of every HCM: applying it replaces every listener. */
function meshConfig(normalization: string): string {
  return `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh, namespace: istio-system}
spec:
  pathNormalization: {normalization: ${normalization}}
`;
}

/** The path the app saw for `//merge//me` sent to `port` (a new connection each time). */
async function seenPath(port: number): Promise<unknown> {
  return (await request(port, { host: 'reviews:9080', path: '//merge//me' })).json?.url;
}

/** Applies the listener changes one after the other, each seen in force on both sidecars' listeners. */
async function changeListeners(): Promise<void> {
  for (let i = 0; i < CHANGES; i++) {
    const merge = i % 2 === 0;
    await mesh.apply(meshConfig(merge ? 'MERGE_SLASHES' : 'BASE'));
    const want = merge ? '/merge/me' : '//merge//me';
    await eventually(async () => {
      assert.equal(await seenPath(client.outbound), want, 'outbound listener updated');
      assert.equal(await seenPath(reviews.inbound), want, 'inbound listener updated');
    }, 60_000);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Runs `send` back to back until `stop()`; counts replies other than 200 (with why) and total. */
function loop(send: () => Promise<number>): { stop(): Promise<{ total: number; failed: string[] }> } {
  let stopped = false;
  let total = 0;
  const failed: string[] = [];
  const running = (async () => {
    while (!stopped) {
      total++;
      try {
        const status = await send();
        if (status !== 200) failed.push(`status ${status}`);
      } catch (err) {
        failed.push(String((err as Error).message ?? err));
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return { total, failed };
    },
  };
}

/** An h2c client that opens a new session when the proxy sends GOAWAY, as gRPC and browsers do. */
class H2Client {
  private session: http2.ClientHttp2Session | undefined;
  private readonly port: number;
  constructor(port: number) {
    this.port = port;
  }

  private current(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const next = http2.connect(`http://127.0.0.1:${this.port}`);
    next.on('error', () => {});
    next.on('goaway', () => {
      if (this.session === next) this.session = undefined;
    });
    this.session = next;
    return next;
  }

  /**
   * A stream the server refused unprocessed (REFUSED_STREAM: sent after its GOAWAY's last stream id)
   * is sent again on a new session, as RFC 9113 section 8.7 allows and gRPC and curl do.
   */
  async get(path: string): Promise<number> {
    try {
      return await this.once(path);
    } catch (err) {
      if ((err as { refused?: boolean }).refused) return this.once(path);
      throw err;
    }
  }

  private once(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const stream = this.current().request({ ':path': path, ':authority': 'reviews:9080' });
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`h2c: no reply within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      let status = 0;
      stream.on('response', (h) => {
        status = Number(h[':status']);
      });
      stream.on('data', () => {});
      stream.on('end', () => {
        clearTimeout(timer);
        resolve(status);
      });
      stream.on('error', (err) => {
        clearTimeout(timer);
        reject(Object.assign(err, { refused: stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM }));
      });
    });
  }

  close(): void {
    this.session?.close();
  }
}

before(async () => {
  mesh = await startMesh();
  app = await startHttpEcho('reviews');
  [reviews, client] = await Promise.all([
    mesh.sidecar(['--service', 'reviews', '--app-port', String(app.port), '--service-port', '9080']),
    mesh.sidecar(['--service', 'productpage', '--app-port', '1']),
  ]);
  await mesh.apply(meshConfig('BASE'));
  await eventually(async () => {
    assert.equal(await seenPath(client.outbound), '//merge//me');
  }, 60_000);
});

after(async () => {
  await mesh?.stop();
  await app?.close();
});

test('listener changes under HTTP/1.1 keep-alive and HTTP/2 load fail no request', async () => {
  // One kept-alive connection per client (maxSockets 1): every request reuses it while it is open.
  const ports = [client.outbound, reviews.inbound];
  const agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const h2 = ports.map((port) => new H2Client(port));
  const h1Get = (i: number) => async () =>
    (await request(ports[i], { host: 'reviews:9080', agent: agents[i], timeoutMs: REQUEST_TIMEOUT_MS }))
      .status;
  const loops = [
    loop(h1Get(0)),
    loop(h1Get(1)),
    loop(() => h2[0].get('/h2')),
    loop(() => h2[1].get('/h2-in')),
  ];
  await changeListeners();
  const results = [];
  for (const l of loops) results.push(await l.stop());
  for (const a of agents) a.destroy();
  for (const c of h2) c.close();
  const names = ['HTTP/1.1 outbound', 'HTTP/1.1 inbound', 'h2c outbound', 'h2c inbound'];
  const report = results.map(
    (r, i) => `${names[i]}: ${r.failed.length} of ${r.total} failed ${r.failed.slice(0, 3).join('; ')}`,
  );
  for (const [i, r] of results.entries()) {
    assert.ok(r.total > 20, `${names[i]}: only ${r.total} requests were sent`);
    assert.equal(r.failed.length, 0, report.join('\n'));
  }
});
