// `weft proxy-status` formatting: each type's sync state and the NACK reasons under the table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProxyStatus, syncState } from '../../src/cli/proxy-status.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';

test('a type is SYNCED when the sent version was ACKed, STALE before, NACK when rejected, NOT SENT otherwise', () => {
  assert.equal(syncState(undefined), 'NOT SENT');
  assert.equal(syncState({ resources: 0 }), 'NOT SENT');
  assert.equal(syncState({ sent: 'a', acked: 'a', resources: 1 }), 'SYNCED');
  assert.equal(syncState({ sent: 'b', acked: 'a', resources: 1 }), 'STALE');
  assert.equal(syncState({ sent: 'b', resources: 1 }), 'STALE');
  const nack = { version: 'b', message: 'bad', at: '2026-01-01T00:00:00.000Z' };
  assert.equal(syncState({ sent: 'b', acked: 'a', nack, resources: 1 }), 'NACK');
});

test('the table lists every proxy in istioctl column order and the NACK reasons below it', () => {
  const text = formatProxyStatus({
    controlPlaneVersion: '9.9.9',
    proxies: [
      {
        nodeId: 'reviews-1',
        cluster: 'reviews',
        peer: '127.0.0.1:1',
        adminPort: 15000,
        protocol: 'sotw',
        connectedAt: '2026-01-01T00:00:00.000Z',
        types: {
          [TYPE_URL.cluster]: { sent: 'c1', acked: 'c1', resources: 3 },
          [TYPE_URL.listener]: { sent: 'l2', acked: 'l1', resources: 2 },
          [TYPE_URL.route]: {
            sent: 'r2',
            acked: 'r1',
            nack: { version: 'r2', message: 'route rejected', at: '2026-01-01T00:00:01.000Z' },
            resources: 1,
          },
        },
      },
    ],
  });
  const [header, row, blank, reason] = text.split('\n');
  assert.match(header, /^NAME\s+CLUSTER\s+CDS\s+LDS\s+EDS\s+RDS\s+ADMIN\s+PILOT VERSION$/);
  assert.match(
    row,
    /^reviews-1\s+reviews\s+SYNCED\s+STALE\s+NOT SENT\s+NACK\s+127\.0\.0\.1:15000\s+9\.9\.9$/,
  );
  assert.equal(blank, '');
  assert.equal(reason, 'reviews-1 RDS NACK (version r2, 2026-01-01T00:00:01.000Z): route rejected');
  assert.equal(formatProxyStatus({ controlPlaneVersion: '1', proxies: [] }), 'No xDS clients are connected.');
});
