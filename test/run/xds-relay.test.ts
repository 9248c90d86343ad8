// weft proxyless's xDS relay with real HTTP/2 clients: only ADS is relayed, and a control plane it cannot reach ends the app's stream with UNAVAILABLE (the app then retries).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADS_PATH, XdsRelay } from '../../src/run/xds-relay.ts';
import { makeCertificates } from '../helpers/openssl-certs.ts';
import { freePort } from '../helpers/prometheus.ts';

/** Opens `path` on the relay and resolves with the trailers' grpc-status and grpc-message (10 s bound). */
function call(address: string, path: string): Promise<{ status: string; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no gRPC status from the relay within 10 s for ${path}`));
    }, 10_000);
    session.on('error', reject);
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status = '';
    let message = '';
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
    };
    // The call is over at its trailers (a gRPC client does not half-close an ADS stream first).
    const done = () => {
      clearTimeout(timer);
      session.destroy();
      resolve({ status, message });
    };
    stream.on('response', (h) => {
      take(h);
      if (status !== '') done();
    });
    stream.on('trailers', (h) => {
      take(h);
      done();
    });
    stream.resume();
    stream.on('close', done);
  });
}

test('the relay answers other methods UNIMPLEMENTED and ends ADS with UNAVAILABLE when the control plane is unreachable', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-relay-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = makeCertificates(dir, 'w', ['localhost']);
  const tls = {
    key: readFileSync(files.key, 'utf8'),
    cert: readFileSync(files.cert, 'utf8'),
    ca: readFileSync(files.ca, 'utf8'),
    checkServerIdentity: () => undefined,
  };
  // A free port nothing listens on: every upstream connection is refused.
  const relay = await XdsRelay.start({ upstreams: [`127.0.0.1:${await freePort()}`], tls: () => tls });
  t.after(() => relay.close());
  assert.deepEqual(await call(relay.address, '/grpc.health.v1.Health/Check'), {
    status: '12',
    message: 'only ADS is relayed',
  });
  const ads = await call(relay.address, ADS_PATH);
  assert.equal(ads.status, '14', JSON.stringify(ads));
});
