// Route, header and RBAC regexes use RE2 (re2js): linear time on catastrophic patterns, RE2 syntax, full match.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readStringMatch } from '../../src/config/istio/string-match.ts';
import { UnsupportedFieldError } from '../../src/errors.ts';
import { RequestHead } from '../../src/proxy/http/request-head.ts';
import { compileStringMatcher, matchString } from '../../src/proxy/http/router/matchers.ts';
import { findRoute, findVirtualHost, rewritePath } from '../../src/proxy/http/router/route-match.ts';
import { compileRouteTable, type ForwardAction } from '../../src/proxy/http/router/route-table.ts';

// A backtracking engine takes longer than the age of the universe on these; RE2 is linear.
const EVIL = '(a+)+$';
const LONG = `/${'a'.repeat(100_000)}!`;

function head(path: string, headers: Record<string, string> = {}): RequestHead {
  const h = new RequestHead();
  h.authority = 'svc';
  h.path = path;
  h.method = 'GET';
  for (const [k, v] of Object.entries(headers)) h.headers.push(k, v);
  return h;
}

const table = compileRouteTable({
  name: 'r',
  virtualHosts: [
    {
      name: 'svc',
      domains: ['svc'],
      routes: [
        { name: 'evil-path', match: { safeRegex: { regex: `/${EVIL}` } }, route: { cluster: 'evil' } },
        {
          name: 'evil-header',
          match: { prefix: '/', headers: [{ name: 'x-a', safeRegexMatch: { regex: EVIL } }] },
          route: { cluster: 'evil-h' },
        },
        {
          name: 'rewrite',
          match: { prefix: '/v' },
          route: {
            cluster: 'v',
            regexRewrite: { pattern: { regex: '^/v(\\d+)/(.*)$' }, substitution: '/api/\\1/\\2' },
          },
        },
        { name: 'rest', match: { prefix: '/' }, route: { cluster: 'rest' } },
      ],
    },
  ],
});

function route(h: RequestHead) {
  return findRoute(findVirtualHost(table, h.authority)!, h);
}

test('a catastrophic pattern against a 100 KB path or header does not stall', { timeout: 20_000 }, () => {
  assert.equal(route(head(LONG))?.name, 'rest');
  assert.equal(route(head(`/${'a'.repeat(100_000)}`))?.name, 'evil-path');
  assert.equal(route(head('/x', { 'x-a': `${'a'.repeat(100_000)}!` }))?.name, 'rest');
  const m = compileStringMatcher({ safeRegex: { regex: EVIL } }, 'rbac.principal');
  assert.equal(matchString(m, `${'a'.repeat(100_000)}!`), false);
});

test('regex_rewrite substitutes RE2 groups', () => {
  const r = route(head('/v2/items?q=1'))!;
  assert.equal(r.name, 'rewrite');
  assert.equal(rewritePath(r.action as ForwardAction, r, '/v2/items?q=1'), '/api/2/items?q=1');
});

test('syntax RE2 lacks is refused: at apply with its field, and by the proxy', () => {
  for (const [pattern, why] of [
    ['(?=admin)/x', /lookaround/],
    ['(a)\\1', /backreference/],
    ['(?<!x)y', /lookaround/],
    ['a{1,2000}', /not valid RE2/],
  ] as const) {
    const errors: { path: (string | number)[]; message: string }[] = [];
    const check = { error: (path: (string | number)[], message: string) => errors.push({ path, message }) };
    readStringMatch(check as never, { regex: pattern }, ['spec', 'http', 0, 'match', 0, 'uri']);
    assert.equal(errors.length, 1, pattern);
    assert.deepEqual(errors[0].path, ['spec', 'http', 0, 'match', 0, 'uri', 'regex']);
    assert.match(errors[0].message, why);
    assert.throws(
      () => compileStringMatcher({ safeRegex: { regex: pattern } }, 'route.match.safe_regex'),
      (err) => err instanceof UnsupportedFieldError && /route\.match\.safe_regex/.test(err.message),
    );
  }
});
