// retry_on conditions for answers: which HTTP statuses and gRPC statuses a compiled retry policy retries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retriableAnswer } from '../../src/proxy/http/router/retry.ts';
import { compileRouteTable, type RetryPolicy } from '../../src/proxy/http/router/route-table.ts';

function policy(retryPolicy: Record<string, unknown>): RetryPolicy {
  const table = compileRouteTable({
    name: 'r',
    virtualHosts: [
      {
        name: 'v',
        domains: ['*'],
        routes: [{ match: { prefix: '/' }, route: { cluster: 'c', retryPolicy } }],
      },
    ],
  });
  const action = table.virtualHosts[0].routes[0].action;
  assert.equal(action.kind, 'forward');
  return action.kind === 'forward' ? action.retry! : (undefined as never);
}

test('5xx retries every status from 500, nothing below', () => {
  const p = policy({ retryOn: '5xx' });
  assert.equal(p.lowestRetriedStatus, 500);
  assert.equal(retriableAnswer(p, 500), true);
  assert.equal(retriableAnswer(p, 503), true);
  assert.equal(retriableAnswer(p, 499), false);
  assert.equal(retriableAnswer(p, 200), false);
});

test('gateway-error retries 502, 503 and 504 only', () => {
  const p = policy({ retryOn: 'gateway-error' });
  assert.deepEqual(
    [500, 502, 503, 504, 505].map((s) => retriableAnswer(p, s)),
    [false, true, true, true, false],
  );
});

test('retriable-status-codes retries the listed codes, below 500 too', () => {
  const p = policy({ retryOn: 'connect-failure,retriable-status-codes', retriableStatusCodes: [409, 503] });
  assert.equal(p.lowestRetriedStatus, 409);
  assert.deepEqual(
    [200, 408, 409, 500, 503].map((s) => retriableAnswer(p, s)),
    [false, false, true, false, true],
  );
});

test('conditions on answers absent: no status is retried; gRPC conditions look at grpc-status', () => {
  const p = policy({ retryOn: 'connect-failure,refused-stream,unavailable,cancelled' });
  assert.equal(p.lowestRetriedStatus, Number.POSITIVE_INFINITY);
  assert.equal(retriableAnswer(p, 503), false);
  assert.equal(retriableAnswer(p, 200, '14'), true);
  assert.equal(retriableAnswer(p, 200, '1'), true);
  assert.equal(retriableAnswer(p, 200, '13'), false);
  assert.equal(retriableAnswer(p, 200, '0'), false);
});
