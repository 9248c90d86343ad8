// Test helpers for config: expect a ConfigError, and read a resource into its model meaning.
import assert from 'node:assert/strict';
import { compileResource } from '../../src/config/compile.ts';
import type { CompiledSpec } from '../../src/config/kinds.ts';
import { parseResources } from '../../src/config/parse.ts';
import type { ConfigIssue } from '../../src/errors.ts';
import { ConfigError } from '../../src/errors.ts';
import { DEFAULT_MESH } from '../../src/model/snapshot.ts';

/** Runs `fn`, asserts it throws a ConfigError, and returns its issues. */
export function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.issues;
  }
  assert.fail('expected a ConfigError');
}

/** Parses one document and returns what it means for the model (with the default mesh). */
export function compileYaml(text: string): CompiledSpec {
  const [doc] = parseResources(text, 'test.yaml');
  const result = compileResource(doc.resource, { domainSuffix: DEFAULT_MESH.domainSuffix });
  assert.ok(result?.outcome === 'compiled', JSON.stringify(result));
  return result.compiled;
}

/** A document of `kind` with `spec` given as YAML lines (indented by two under `spec:`). */
export function doc(kind: string, specYaml: string, name = 'x'): string {
  return `apiVersion: networking.istio.io/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${specYaml}`;
}
