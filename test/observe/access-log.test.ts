// Access log formats (Envoy command operators, TEXT and JSON) and the bounded file writer.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_JSON_FORMAT, DEFAULT_TEXT_FORMAT } from '../../src/observe/access-log/defaults.ts';
import type { AccessLogEntry } from '../../src/observe/access-log/entry.ts';
import { AccessLogFormatError, jsonFormatter, textFormatter } from '../../src/observe/access-log/format.ts';
import { AccessLogWriter } from '../../src/observe/access-log/writer.ts';
import { eventually } from '../helpers/eventually.ts';

const REQ: Record<string, string> = {
  ':method': 'GET',
  ':path': '/reviews/1?x=1',
  ':authority': 'reviews:9080',
  'user-agent': 'curl/8.0',
  'x-request-id': 'abc-123',
};

function entry(over: Partial<AccessLogEntry> = {}): AccessLogEntry {
  return {
    startTime: Date.UTC(2026, 11, 5, 4, 0, 0, 123),
    protocol: 'HTTP/1.1',
    requestHeader: (h) => REQ[h],
    responseHeader: (h) => (h === 'x-envoy-upstream-service-time' ? '7' : undefined),
    responseCode: 200,
    responseFlags: '-',
    responseCodeDetails: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 295,
    durationMs: 8.4,
    upstreamHost: '127.0.0.1:9080',
    upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
    upstreamLocalAddress: '',
    downstreamLocalAddress: '127.0.0.1:15001',
    downstreamRemoteAddress: '127.0.0.1:50000',
    requestedServerName: '',
    routeName: 'default',
    downstreamPeerUriSan: '',
    ...over,
  };
}

test("Istio's default TEXT line: the fields in Envoy's order, '-' for what is missing", () => {
  assert.equal(
    textFormatter(DEFAULT_TEXT_FORMAT)(entry()),
    '[2026-12-05T04:00:00.123Z] "GET /reviews/1?x=1 HTTP/1.1" 200 - via_upstream - "-" 0 295 8 7 "-" "curl/8.0" ' +
      '"abc-123" "reviews:9080" "127.0.0.1:9080" outbound|9080||reviews.default.svc.cluster.local - ' +
      '127.0.0.1:15001 127.0.0.1:50000 - default\n',
  );
});

test('REQ with an alternative and a length limit; unknown operators are refused by name', () => {
  const f = textFormatter('%REQ(X-ENVOY-ORIGINAL-PATH?:PATH):8% %REQ(:METHOD)%');
  assert.equal(f(entry()), '/reviews GET');
  assert.throws(() => textFormatter('%NOT_AN_OPERATOR%'), AccessLogFormatError);
  assert.throws(() => textFormatter('%START_TIME(%s)%'), /without arguments/);
});

test('JSON lines: numbers stay numbers, missing values are null, mixed strings are text', () => {
  const line = jsonFormatter(DEFAULT_JSON_FORMAT)(
    entry({ responseCode: 503, responseFlags: 'UF', upstreamHost: '' }),
  );
  const o = JSON.parse(line);
  assert.ok(line.endsWith('}\n'));
  assert.equal(o.response_code, 503);
  assert.equal(o.response_flags, 'UF');
  assert.equal(o.upstream_host, null);
  assert.equal(o.method, 'GET');
  assert.equal(o.bytes_sent, 295);
  assert.equal(o.start_time, '2026-12-05T04:00:00.123Z');
  assert.equal(JSON.parse(jsonFormatter({ m: '%REQ(:METHOD)% %RESPONSE_CODE%' })(entry())).m, 'GET 200');
});

test('the writer appends lines in order; a full queue drops and counts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-access-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'access.log');
  const w = new AccessLogWriter(path, 100);
  for (let i = 0; i < 5; i++) w.write(`line ${i}\n`);
  // 5 x 7 bytes are queued; the next 70 bytes do not fit in 100 and are dropped without blocking.
  w.write(`${'x'.repeat(69)}\n`);
  assert.equal(w.dropped, 1);
  await eventually(async () => assert.equal(w.written, 5), 5000, 20);
  assert.equal(await readFile(path, 'utf8'), 'line 0\nline 1\nline 2\nline 3\nline 4\n');
  w.write('after\n');
  await eventually(async () => assert.equal(w.written, 6), 5000, 20);
  w.close();
  assert.ok((await readFile(path, 'utf8')).endsWith('after\n'));
});

test('a file that cannot be opened drops its lines and counts them', async () => {
  const w = new AccessLogWriter('/nonexistent-dir/weft/access.log');
  w.write('a\n');
  w.write('b\n');
  await eventually(async () => assert.equal(w.dropped, 2), 5000, 20);
  assert.equal(w.written, 0);
});
