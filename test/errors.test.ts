// The error catalogue and its documentation stay in step.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as errors from '../src/errors.ts';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

test('every error code is documented in docs/errors.md', () => {
  for (const code of errors.ERROR_CODES)
    assert.match(doc, new RegExp(`\`${code}\``), `${code} missing from docs/errors.md`);
});

test('every error class uses a code from the catalogue', () => {
  const known = new Set<string>(errors.ERROR_CODES);
  for (const value of Object.values(errors)) {
    if (typeof value !== 'function' || !(value.prototype instanceof errors.WeftError)) continue;
    const ctor = value as unknown as new (...args: unknown[]) => errors.WeftError;
    const instance = value === errors.ConfigError ? new errors.ConfigError([]) : new ctor('x');
    assert.ok(known.has(instance.code), `${value.name} has uncatalogued code ${instance.code}`);
  }
});

test('ConfigError names file, line, document and field', () => {
  const err = new errors.ConfigError([
    {
      file: 'vs.yaml',
      document: 1,
      line: 12,
      column: 9,
      field: 'spec.http[0].route[0].weight',
      message: 'must be an integer',
    },
  ]);
  assert.equal(err.message, 'vs.yaml:12:9: document 1: spec.http[0].route[0].weight: must be an integer');
  assert.equal(err.code, 'WEFT_CONFIG_INVALID');
});
