// Micro-benchmark: cost of the hardened request checks (head parser, chunked re-framing, RE2 regexes) before and after, in one run.
// Run: node bench/request-checks.ts [--before REV]   (REV: the commit whose parser is "before"; default ecd5856~1)
// Prints a Markdown table; the figures are quoted in docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RE2JS } from 're2js';
import * as after from '../src/proxy/http/h1/parser.ts';
import { normalizeRequestPath } from '../src/proxy/http/path-normalization.ts';
import { RequestHead } from '../src/proxy/http/request-head.ts';
import { SANITIZE_XFCC, xfccValue } from '../src/proxy/http/xfcc.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const flag = process.argv.indexOf('--before');
const BEFORE_REV = flag > 0 ? process.argv[flag + 1] : 'ecd5856~1';

/** The parser as it was at BEFORE_REV, written to a temp file whose imports point into this checkout. */
async function parserBefore(): Promise<typeof after> {
  const text = execFileSync('git', ['show', `${BEFORE_REV}:src/proxy/http/h1/parser.ts`], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .replace("'../../common/latin1.ts'", `'${join(ROOT, 'src/proxy/common/latin1.ts')}'`)
    .replace("'../request-head.ts'", `'${join(ROOT, 'src/proxy/http/request-head.ts')}'`);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-parser-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'parser-before.ts');
  writeFileSync(file, text);
  return (await import(file)) as typeof after;
}

const N = 1_000_000;

function time(fn: (i: number) => unknown, n = N): number {
  for (let i = 0; i < n / 10; i++) fn(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / n;
}

const HEAD = Buffer.from(
  'GET /api/v1/items/42?q=1 HTTP/1.1\r\nHost: reviews.default.svc.cluster.local:9080\r\n' +
    'User-Agent: curl/8.5.0\r\nAccept: */*\r\nX-Request-Id: 6f1c7e9e-4a0b-4d8e-9d5b-2f3c1a7b8e90\r\n' +
    'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n',
);

function parseWith(p: typeof after): () => void {
  const head = new RequestHead();
  const info = new p.HeadInfo();
  return () => {
    head.headers.length = 0;
    info.reset();
    if (p.parseRequestHead(HEAD, head, info) !== 'complete') throw new Error('parse failed');
  };
}

/** 16 KiB in 16 chunks of 1 KiB, read in one buffer: located only (before) or re-framed (after). */
const CHUNKED = Buffer.concat([
  ...Array.from({ length: 16 }, () =>
    Buffer.concat([Buffer.from('400\r\n'), Buffer.alloc(1024, 97), Buffer.from('\r\n')]),
  ),
  Buffer.from('0\r\n\r\n'),
]);

function chunkedWith(p: typeof after, reframe: boolean): () => void {
  const reader = new p.BodyReader();
  return () => {
    (reader.start as (f: string, n: number, d: boolean, r?: boolean) => void)('chunked', -1, false, reframe);
    if (reader.read(CHUNKED, 0) !== CHUNKED.length || !reader.done) throw new Error('chunked failed');
    reader.decoded.length = 0;
  };
}

/** What the request-hardening hook does per request with Istio's defaults: BASE paths, XFCC sanitised. */
function hardening(): () => unknown {
  const head = new RequestHead();
  after.parseRequestHead(HEAD, head, new after.HeadInfo());
  const base = { normalizePath: true, mergeSlashes: false, escapedSlashes: 'KEEP_UNCHANGED' } as const;
  return () => {
    const r = normalizeRequestPath(head.path, base);
    const received = head.get('x-forwarded-client-cert');
    return r.kind === 'path' && xfccValue(received, SANITIZE_XFCC, undefined) === undefined;
  };
}

const before = await parserBefore();
const path = '/api/v1/items/42';
const v8Path = /^(?:\/api\/v[0-9]+\/items\/[0-9]+)$/;
const re2Path = RE2JS.compile('/api/v[0-9]+/items/[0-9]+');
const header = '6f1c7e9e-4a0b-4d8e-9d5b-2f3c1a7b8e90';
const v8Header = /^(?:[0-9a-f-]{36})$/;
const re2Header = RE2JS.compile('[0-9a-f-]{36}');
const evil = `${'a'.repeat(24)}!`;

/** Median ns per call of `b` and `a` over 7 alternating rounds (a noisy machine hits both alike). */
function compare(
  name: string,
  b: (i: number) => unknown,
  a: (i: number) => unknown,
  n = N,
): [string, number, number] {
  const tb: number[] = [];
  const ta: number[] = [];
  for (let round = 0; round < 7; round++) {
    tb.push(time(b, n));
    ta.push(time(a, n));
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[3];
  return [name, median(tb), median(ta)];
}

const rows = [
  compare('parse a 6-header request head', parseWith(before), parseWith(after), N / 4),
  compare(
    '16 KiB chunked body, 16 chunks (before: located, after: re-framed)',
    chunkedWith(before, false),
    chunkedWith(after, true),
    N / 20,
  ),
  compare('path normalisation (BASE) and XFCC check, per request (before: none)', () => 0, hardening()),
  compare(
    'route regex on a path (V8 RegExp before, re2js after)',
    () => v8Path.test(path),
    () => re2Path.testExact(path),
  ),
  compare(
    'header regex on a 36-byte value',
    () => v8Header.test(header),
    () => re2Header.testExact(header),
  ),
];
console.log('| check | before (ns) | after (ns) | change |');
console.log('|---|---:|---:|---:|');
for (const [name, b, a] of rows)
  console.log(
    `| ${name} | ${b.toFixed(0)} | ${a.toFixed(0)} | ${a >= b ? '+' : ''}${(a - b).toFixed(0)} ns |`,
  );
const evilStart = process.hrtime.bigint();
/(a+)+$/.test(evil);
const v8Evil = Number(process.hrtime.bigint() - evilStart) / 1e6;
const re2Evil = time(() => RE2JS.compile('(a+)+$').test(evil), 1000) / 1e6;
console.log(
  `\n\`(a+)+$\` against 24 a's and '!': V8 RegExp ${v8Evil.toFixed(0)} ms, re2js ${re2Evil.toFixed(3)} ms (each extra 'a' doubles V8's time).`,
);
