// parseResources/validateResources: normalisation, locations, lists, warnings and what is skipped.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkResources, parseResources, validateResources } from '../../src/config/parse.ts';
import { issuesOf } from './util.ts';

const WE = (name: string, extra = '') =>
  `apiVersion: networking.istio.io/v1alpha3\nkind: WorkloadEntry\nmetadata:\n  name: ${name}\n${extra}spec:\n  address: 10.0.0.1\n`;

describe('parseResources', () => {
  test('namespaces default to options.defaultNamespace, else default; a document namespace wins', () => {
    const text = `${WE('a')}---\n${WE('b', '  namespace: prod\n')}`;
    assert.deepEqual(
      parseResources(text, 'f.yaml').map((d) => d.resource.metadata.namespace),
      ['default', 'prod'],
    );
    assert.deepEqual(
      parseResources(text, 'f.yaml', { defaultNamespace: 'staging' }).map(
        (d) => d.resource.metadata.namespace,
      ),
      ['staging', 'prod'],
    );
    const [issue] = issuesOf(() => parseResources(WE('a'), 'f.yaml', { defaultNamespace: 'Not OK' }));
    assert.equal(issue.field, 'metadata.namespace');
    assert.match(issue.message, /\(the default namespace\)/);
  });

  test('empty documents and comments are skipped; locations count every document', () => {
    const text = `# leading comment\n---\n${WE('a')}---\n---\n# just a comment\n---\n${WE('b')}---\n`;
    const docs = parseResources(text, 'f.yaml');
    assert.deepEqual(
      docs.map((d) => [d.resource.metadata.name, d.location]),
      [
        ['a', { file: 'f.yaml', document: 0, line: 3 }],
        ['b', { file: 'f.yaml', document: 3, line: 13 }],
      ],
    );
    assert.deepEqual(parseResources('', 'empty.yaml'), []);
    assert.deepEqual(parseResources('# nothing\n---\n', 'empty.yaml'), []);
  });

  test('the stored resource is the document as written, plus the namespace', () => {
    const [{ resource, warnings }] = parseResources(
      `${WE('a', '  labels: {team: x}\n  uid: 1234\n  resourceVersion: "7"\n')}status: {phase: ok}\n`,
      'f.yaml',
    );
    assert.deepEqual(resource, {
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'WorkloadEntry',
      metadata: { name: 'a', namespace: 'default', labels: { team: 'x' }, resourceVersion: '7' },
      spec: { address: '10.0.0.1' },
    });
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /metadata\.uid: ignored: set by Kubernetes/);
    assert.match(warnings[1], /^f\.yaml:10:1: document 0: status: ignored/);
  });

  test('kind: List and a top-level list hold several resources; issues name the item', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.istio.io/v1\n  kind: WorkloadEntry\n  metadata: {name: a}\n  spec: {address: 10.0.0.1}\n- apiVersion: networking.istio.io/v1\n  kind: WorkloadEntry\n  metadata: {name: b}\n  spec: {address: 10.0.0.2}\n`;
    const docs = parseResources(list, 'list.yaml');
    assert.deepEqual(
      docs.map((d) => [d.resource.metadata.name, d.location.line]),
      [
        ['a', 4],
        ['b', 8],
      ],
    );
    const [issue] = issuesOf(() => parseResources(list.replace('10.0.0.2', '"*"'), 'list.yaml'));
    assert.deepEqual([issue.field, issue.line, issue.column], ['items[1].spec.address', 11, 10]);
    const json = JSON.stringify([
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'WorkloadEntry',
        metadata: { name: 'a' },
        spec: { address: '10.0.0.1' },
      },
    ]);
    assert.equal(parseResources(json, 'list.json')[0].resource.metadata.name, 'a');
  });

  test('the result is plain data, independent of the input object', () => {
    const input = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: { name: 'a' },
      spec: { address: '10.0.0.1', labels: { app: 'a' } },
    };
    const [resource] = validateResources([input], 'request');
    input.spec.labels.app = 'changed';
    assert.deepEqual(resource.spec, { address: '10.0.0.1', labels: { app: 'a' } });
    assert.equal(resource.metadata.namespace, 'default');
  });

  test('checkResources returns warnings for API bodies', () => {
    const [checked] = checkResources(
      [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'WorkloadEntry',
          metadata: { name: 'a' },
          spec: { address: '10.0.0.1', network: 'n' },
        },
      ],
      'request',
    );
    assert.equal(checked.document, 0);
    assert.deepEqual(checked.warnings, [
      'request: document 0: spec.network: ignored: weft runs one network; multi-network gateways are not implemented',
    ]);
  });
});
