// Benchmark harness pieces that decide figures: wrk/h2load report parsing, the response reader, the doc writer, gRPC frames.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upsertSection } from '../../bench/lib/doc.ts';
import { unaryRequestFrame } from '../../bench/lib/echo.ts';
import { parseH2load } from '../../bench/lib/h2load.ts';
import { ResponseReader } from '../../bench/lib/response-reader.ts';
import { markdownTable } from '../../bench/lib/table.ts';
import { check } from '../../bench/lib/targets.ts';
import { missingTools } from '../../bench/lib/tools.ts';
import { multiCoreFlag } from '../../bench/lib/weft.ts';
import { parseWrk, wrkErrors } from '../../bench/lib/wrk.ts';

const WRK = `Running 10s test @ http://127.0.0.1:44679/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.07ms   10.13ms 105.35ms   94.32%
    Req/Sec    26.96k     9.75k   39.23k    66.67%
  Latency Distribution
     50%  812.00us
     75%    2.05ms
     90%    6.68ms
     99%    1.20s
  268527 requests in 10.01s, 30.22MB read
  Socket errors: connect 0, read 3, write 0, timeout 7
  Non-2xx or 3xx responses: 12
Requests/sec:  26781.40
Transfer/sec:      3.06MB
`;

test('parseWrk reads throughput, latency percentiles in any unit, and errors', () => {
  const r = parseWrk(WRK);
  assert.equal(r.requests, 268527);
  assert.equal(r.durationS, 10.01);
  assert.equal(r.requestsPerSecond, 26781.4);
  assert.equal(r.latencyMs.p50, 0.812);
  assert.equal(r.latencyMs.p75, 2.05);
  assert.equal(r.latencyMs.p99, 1200);
  assert.deepEqual(r.socketErrors, { connect: 0, read: 3, write: 0, timeout: 7 });
  assert.equal(r.non2xx, 12);
  assert.equal(wrkErrors(r), 22);
});

test('parseWrk refuses a report without --latency percentiles', () => {
  const withoutLatency = WRK.replace(/ {5}50%.*\n/, '');
  assert.throws(() => parseWrk(withoutLatency), /no 50% latency/);
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused'), /cannot parse wrk/);
});

test('parseH2load reads calls/s, outcome counts and the mean time per request', () => {
  const r = parseH2load(`finished in 4.00s, 26826.67 req/s, 4.35MB/s
requests: 80480 total, 80480 started, 80480 done, 80470 succeeded, 10 failed, 0 errored, 0 timeout
status codes: 80420 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 13.04MB (13677053) total, 446.75KB (457470) headers (space savings 96.39%), 11.82MB (12393680) data
                     min         max         mean         sd        +/- sd
time for request:      807us     84.05ms    850us      4.70ms    93.81%
`);
  assert.equal(r.requestsPerSecond, 26826.67);
  assert.equal(r.succeeded, 80470);
  assert.equal(r.failed, 10);
  assert.equal(r.status2xx, 80420);
  assert.equal(r.meanMs, 0.85);
});

test('ResponseReader splits Content-Length and chunked responses however the bytes arrive', () => {
  const wire = Buffer.from(
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' +
      'HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: 1\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\n\r\n',
  );
  for (const size of [1, 3, 7, wire.length]) {
    const reader = new ResponseReader();
    const statuses: number[] = [];
    for (let i = 0; i < wire.length; i += size)
      assert.equal(
        reader.feed(wire.subarray(i, i + size), (s) => statuses.push(s)),
        undefined,
      );
    assert.deepEqual(statuses, [200, 503, 204], `chunks of ${size} bytes`);
  }
});

test('ResponseReader reports garbage instead of hanging on it', () => {
  assert.match(
    new ResponseReader().feed(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'), () => {}) ?? '',
    /not an HTTP/,
  );
  const noLength = new ResponseReader().feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), () => {});
  assert.match(noLength ?? '', /without Content-Length/);
});

test('upsertSection replaces only its own markers and places new sections in order', () => {
  const foreign = '<!-- xds-convergence:start -->\n## Control plane\nkept\n<!-- xds-convergence:end -->';
  let doc = `# Benchmarks\n\nintro\n\n${foreign}\n\n## Proxy\n\ntheirs\n`;
  doc = upsertSection(doc, 'memory', '## Memory\nm1');
  doc = upsertSection(doc, 'environment', '## Machine\ne1');
  doc = upsertSection(doc, 'http1', '## HTTP\nh1');
  doc = upsertSection(doc, 'http1', '## HTTP\nh2');
  const order = [
    'bench:environment:start',
    'bench:http1:start',
    'bench:memory:start',
    'xds-convergence:start',
    '## Proxy',
  ];
  const positions = order.map((m) => doc.indexOf(m));
  assert.ok(positions.every((p) => p >= 0));
  assert.deepEqual(
    [...positions].sort((a, b) => a - b),
    positions,
  );
  assert.ok(doc.includes('h2') && !doc.includes('h1\n'));
  assert.ok(doc.includes(foreign));
  assert.ok(doc.endsWith('## Proxy\n\ntheirs\n'));
  assert.throws(() => upsertSection('<!-- bench:tcp:start -->', 'tcp', 'x'), /broken/);
});

test('unaryRequestFrame is a gRPC frame holding a Payload with the requested bytes', () => {
  const frame = unaryRequestFrame(128);
  assert.equal(frame[0], 0);
  assert.equal(frame.readUInt32BE(1), frame.length - 5);
  assert.deepEqual([...frame.subarray(5, 8)], [0x0a, 0x80, 0x01]);
  assert.equal(frame.length, 5 + 3 + 128);
  assert.deepEqual([...unaryRequestFrame(5).subarray(5, 7)], [0x0a, 5]);
});

test('multiCoreFlag finds a workers flag in help text and nothing otherwise', () => {
  assert.equal(multiCoreFlag('  --admin-port <port>   admin port\n'), undefined);
  assert.equal(multiCoreFlag('  --workers <n>   worker processes (default: 1)\n')?.flag, '--workers');
  assert.equal(multiCoreFlag('  --concurrency <n>  threads\n')?.flag, '--concurrency');
});

test('check gives met, not met, or not measured', () => {
  const d = (v: number) => String(v);
  assert.equal(check('t', 10, 'at-least', 5, d, 'none').verdict, 'met');
  assert.equal(check('t', 4, 'at-least', 5, d, 'none').verdict, 'not met');
  assert.equal(check('t', 0.6, 'at-most', 0.5, d, 'none').verdict, 'not met');
  assert.equal(check('t', undefined, 'at-most', 0.5, d, 'none').verdict, 'not measured');
});

test('markdownTable escapes pipes and aligns figures right, notes left', () => {
  const t = markdownTable(['path', 'req/s', 'notes'], [['a|b', '1', 'x']]);
  assert.equal(t, '| path | req/s | notes |\n| --- | ---: | --- |\n| a\\|b | 1 | x |');
});

test('missingTools names exactly the packages to install for the tools a run needs', () => {
  const paths = { nginx: undefined, haproxy: '/usr/sbin/haproxy', wrk: undefined, h2load: undefined };
  const missing = missingTools(paths, ['nginx', 'haproxy', 'wrk']);
  assert.deepEqual(missing.pkgs, ['nginx-light', 'wrk']);
  assert.match(missing.message, /sudo apt-get install -y nginx-light wrk\n/);
  assert.match(missing.message, /--install/);
  assert.deepEqual(missingTools(paths, ['haproxy']), { pkgs: [], message: '' });
});
