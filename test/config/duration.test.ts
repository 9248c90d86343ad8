// Istio duration strings to milliseconds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../../src/config/duration.ts';

test('durations in every unit, combined and fractional', () => {
  const cases: [string, number][] = [
    ['1.5s', 1500],
    ['500ms', 500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['0.1s', 100],
    ['.5s', 500],
    ['0', 0],
    ['0s', 0],
    ['2000us', 2],
    ['1000000ns', 1],
  ];
  for (const [text, ms] of cases) assert.deepEqual(parseDuration(text), { ms }, text);
});

test('malformed durations are errors that say why', () => {
  for (const text of ['', '5', '5x', '1.5', 's', '-1s', '1d', '5 s', '1s2', 'ms'])
    assert.ok('error' in parseDuration(text), text);
  const sub = parseDuration('1.5ms');
  assert.ok('error' in sub && /milliseconds/.test(sub.error));
  const negative = parseDuration('-1s');
  assert.ok('error' in negative && /negative/.test(negative.error));
});
