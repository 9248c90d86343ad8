// `weft check` findings that a healthy local mesh cannot show: NACKs, stale proxies, an expiring root, a skewed clock.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { checkCertificateAuthority } from '../../src/check/ca.ts';
import { checkClock, estimateSkewMs } from '../../src/check/clock.ts';
import { ControlPlaneProbe } from '../../src/check/probe.ts';
import { checkProxies } from '../../src/check/proxies.ts';
import type { CheckConfig } from '../../src/check/types.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { startWeft } from '../helpers/process.ts';

const CONFIG: CheckConfig = {
  server: '',
  cliVersion: '0.1.0',
  requestTimeoutMs: 5000,
  rootExpiryMarginMs: 30 * 24 * 60 * 60 * 1000,
  maxClockSkewMs: 5000,
  staleGraceMs: 600,
  ports: [],
};

/**
 * Stands in for the control plane's `GET /api/v1/proxies`: a real ADS stream cannot be made
 * to NACK or to stay unacknowledged on demand, so the answer is written here in its real shape.
 */
async function proxiesServer(t: TestContext, types: Record<string, unknown>): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        controlPlaneVersion: '0.1.0',
        proxies: [
          {
            nodeId: 'sidecar~127.0.0.1~reviews-1.default~default.svc.cluster.local',
            cluster: 'reviews',
            peer: '127.0.0.1:1',
            protocol: 'sotw',
            connectedAt: new Date().toISOString(),
            types,
          },
        ],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a NACK fails the proxies check with the proxy, the type and the message', async (t) => {
  const url = await proxiesServer(t, {
    [TYPE_URL.cluster]: {
      sent: '3',
      acked: '2',
      resources: 1,
      nack: { version: '3', message: 'unknown lb policy', at: '' },
    },
    [TYPE_URL.listener]: { sent: '3', acked: '3', resources: 2 },
  });
  const [result] = await checkProxies(new ControlPlaneProbe(url, 5000), CONFIG);
  assert.equal(result.outcome, 'fail');
  assert.match(result.detail ?? '', /reviews-1\.default.* rejected Cluster: unknown lb policy/);
  assert.match(result.hint ?? '', /weft proxy-status/);
});

test('a push that stays unacknowledged fails after the grace period; NOT SENT types are fine', async (t) => {
  const url = await proxiesServer(t, {
    [TYPE_URL.route]: { sent: '5', acked: '4', resources: 1 },
    [TYPE_URL.endpoint]: { resources: 0 },
  });
  const [result] = await checkProxies(new ControlPlaneProbe(url, 5000), CONFIG);
  assert.equal(result.outcome, 'fail');
  assert.match(result.detail ?? '', /has not acknowledged RouteConfiguration version 5/);

  const synced = await proxiesServer(t, { [TYPE_URL.endpoint]: { resources: 0 } });
  const [ok] = await checkProxies(new ControlPlaneProbe(synced, 5000), CONFIG);
  assert.deepEqual(ok, {
    name: 'every connected proxy is in sync (no NACK)',
    outcome: 'pass',
    detail: '1 proxy',
  });
});

test('a root expiring within 30 days fails the CA check (real trust bundle, clock moved forward)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-check-ca-'));
  const cp = await startWeft(
    ['control-plane', '--data-dir', dir, '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    {
      ready: /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/,
    },
  );
  t.after(async () => {
    await cp.stop('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });
  const probe = new ControlPlaneProbe(cp.ready[1], 5000);
  const pem = (await probe.get('/api/v1/trust-bundle')).body;
  const validTo = Date.parse(new X509Certificate(pem).validTo);
  const now = await checkCertificateAuthority(probe, CONFIG);
  assert.deepEqual(
    now.map((r) => r.outcome),
    ['pass', 'pass'],
  );
  const soon = await checkCertificateAuthority(probe, CONFIG, validTo - 10 * 24 * 60 * 60 * 1000);
  assert.equal(soon[1].outcome, 'fail');
  assert.match(soon[1].detail ?? '', /CN=weft root CA.* expires on .*, in (9|10) days/);
  const expired = await checkCertificateAuthority(probe, CONFIG, validTo + 1000);
  assert.match(expired[1].detail ?? '', /expired on/);
});

test('clock difference: estimated from the Date header at the middle of the round trip', () => {
  const sentAt = Date.parse('2026-01-01T00:00:10.000Z');
  const answer = (date: string) => ({
    headers: { date },
    sentAt,
    receivedAt: sentAt + 200,
    status: 200,
    body: '',
  });
  assert.equal(estimateSkewMs(answer('Thu, 01 Jan 2026 00:00:10 GMT')), 400);
  assert.equal(checkClock(answer('Thu, 01 Jan 2026 00:00:10 GMT'), CONFIG).outcome, 'pass');
  const ahead = checkClock(answer('Thu, 01 Jan 2026 00:00:20 GMT'), CONFIG);
  assert.equal(ahead.outcome, 'fail');
  assert.match(ahead.detail ?? '', /10\.4s ahead of this host's/);
  const behind = checkClock(answer('Thu, 01 Jan 2026 00:00:02 GMT'), CONFIG);
  assert.match(behind.detail ?? '', /7\.6s behind/);
  assert.equal(checkClock({ ...answer(''), headers: {} }, CONFIG).outcome, 'warn');
});
