// Config errors point at the exact file, document, line, column and field, and collect every issue.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseResources, validateResources } from '../../src/config/parse.ts';
import { issuesOf } from './util.ts';

const VS_HEAD = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
`;

describe('issue positions', () => {
  test('a weight out of range points at that weight', () => {
    const text = `${VS_HEAD}  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 80
    - destination:
        host: reviews
        subset: v2
      weight: -5
`;
    const issues = issuesOf(() => parseResources(text, 'vs.yaml'));
    assert.deepEqual(issues, [
      {
        file: 'vs.yaml',
        document: 0,
        line: 17,
        column: 7,
        field: 'spec.http[0].route[1].weight',
        message: 'must be an integer between 0 and 2147483647, got -5',
        reason: 'invalid',
      },
    ]);
  });

  test('weights that do not add up to 100 are relative: a warning at the route list says how they are read', () => {
    const text = `${VS_HEAD}  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v2}
      weight: 30
`;
    const [{ warnings }] = parseResources(text, 'vs.yaml');
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /^vs\.yaml:9:5: document 0: spec\.http\[0\]\.route: weights are relative: 80 \+ 30 = 110, read as 73% \/ 27%/,
    );
  });

  test('a malformed duration names the field and the value', () => {
    const text = `${VS_HEAD}  - route:
    - destination: {host: reviews}
    timeout: 1.5x
`;
    const issues = issuesOf(() => parseResources(text, 'vs.yaml'));
    assert.equal(issues.length, 1);
    assert.deepEqual(
      { line: issues[0].line, column: issues[0].column, field: issues[0].field },
      { line: 11, column: 5, field: 'spec.http[0].timeout' },
    );
    assert.match(issues[0].message, /"1\.5x" is not a duration/);
  });

  test('a misspelt field is an unknown field with a suggestion', () => {
    const text = `${VS_HEAD}  - route:
    - destination: {host: reviews}
    retries:
      attempts: 3
      perTryTimout: 2s
`;
    const issues = issuesOf(() => parseResources(text, 'vs.yaml'));
    assert.deepEqual(issues, [
      {
        file: 'vs.yaml',
        document: 0,
        line: 13,
        column: 7,
        field: 'spec.http[0].retries.perTryTimout',
        message: 'unknown field perTryTimout (did you mean perTryTimeout?)',
        reason: 'unknown-field',
      },
    ]);
  });

  test('an Istio field weft lacks is reported as not supported yet', () => {
    const text = `${VS_HEAD}  - route:
    - destination: {host: reviews}
    delegate:
      name: reviews-v1
`;
    const [issue] = issuesOf(() => parseResources(text, 'vs.yaml'));
    assert.equal(issue.field, 'spec.http[0].delegate');
    assert.equal(issue.reason, 'unsupported');
    assert.deepEqual([issue.line, issue.column], [11, 5]);
    assert.match(issue.message, /^field delegate is not supported by weft \(yet\)/);
  });

  test('a missing name points at metadata', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  namespace: prod
spec:
  address: 10.0.0.1
`;
    const issues = issuesOf(() => parseResources(text, 'we.yaml'));
    assert.deepEqual(issues, [
      {
        file: 'we.yaml',
        document: 0,
        line: 3,
        column: 1,
        field: 'metadata.name',
        message: 'field "name" is required',
        reason: 'missing',
      },
    ]);
  });

  test('a YAML syntax error in the 2nd of 3 documents names that document; the others are still checked', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: a}
spec: {address: 10.0.0.1}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: b
  labels:
    app: x: y
spec: {address: 10.0.0.2}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: c}
spec: {address: 10.0.0.3, weight: -1}
`;
    const issues = issuesOf(() => parseResources(text, 'we.yaml'));
    assert.deepEqual(
      issues.map(({ document, line, column, field, reason }) => ({ document, line, column, field, reason })),
      [
        { document: 1, line: 11, column: 10, field: '', reason: 'syntax' },
        { document: 2, line: 17, column: 27, field: 'spec.weight', reason: 'invalid' },
      ],
    );
    assert.match(issues[0].message, /Nested mappings are not allowed/);
  });

  test('the error message is one line per issue: file:line:column: document N: field: message', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: a}
spec: {address: 10.0.0.1, serviceAcount: x}
`;
    assert.throws(
      () => parseResources(text, 'we.yaml'),
      (error: Error) =>
        error.message ===
        'we.yaml:4:27: document 0: spec.serviceAcount: unknown field serviceAcount (did you mean serviceAccount?)',
    );
  });

  test('every issue of every document is reported, in document and source order', () => {
    const text = `apiVersion: networking.istio.io/v2
kind: VirtualService
metadata: {name: Bad_Name}
spec:
  hosts: ["*"]
  http:
  - route: [{destination: {host: reviews}}]
    fault: {delay: {fixedDelay: 5}}
---
kind: EnvoyFilter
apiVersion: networking.istio.io/v1
metadata: {name: gw}
spec: {}
`;
    const issues = issuesOf(() => parseResources(text, 'all.yaml'));
    assert.deepEqual(
      issues.map((i) => `${i.document}:${i.line}:${i.column} ${i.field}`),
      [
        '0:1:1 apiVersion',
        '0:3:12 metadata.name',
        '0:5:3 spec.hosts',
        '0:8:21 spec.http[0].fault.delay.fixedDelay',
        '1:10:1 kind',
      ],
    );
    assert.match(issues[0].message, /use one of networking\.istio\.io\/v1, networking\.istio\.io\/v1beta1/);
    assert.match(issues[4].message, /kind EnvoyFilter is not supported by weft \(yet\): weft is not Envoy/);
    assert.equal(issues[4].reason, 'unsupported');
  });

  test('JSON text gets positions too', () => {
    const text =
      '{"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",\n "metadata": {"name": "a"},\n "spec": {"address": 42}}\n';
    const [issue] = issuesOf(() => parseResources(text, 'we.json'));
    assert.deepEqual([issue.line, issue.column, issue.field], [3, 11, 'spec.address']);
  });

  test('already-parsed objects get the same checks without lines', () => {
    const issues = issuesOf(() =>
      validateResources(
        [
          {
            apiVersion: 'networking.istio.io/v1',
            kind: 'WorkloadEntry',
            metadata: { name: 'a' },
            spec: { adress: 'x' },
          },
        ],
        'request',
      ),
    );
    assert.deepEqual(
      issues.map(({ file, document, line, field, reason }) => ({ file, document, line, field, reason })),
      [
        { file: 'request', document: 0, line: undefined, field: 'spec.address', reason: 'missing' },
        { file: 'request', document: 0, line: undefined, field: 'spec.adress', reason: 'unknown-field' },
      ],
    );
  });
});

describe('documents that are not resources', () => {
  test('a scalar document and an alias bomb are issues, not crashes', () => {
    assert.match(issuesOf(() => parseResources('hello\n', 'a.yaml'))[0].message, /must be a map of fields/);
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
`;
    const [issue] = issuesOf(() => parseResources(bomb, 'bomb.yaml'));
    assert.equal(issue.reason, 'syntax');
  });

  test('keys named like Object.prototype members are ordinary fields', () => {
    const text = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: a}
spec:
  address: 10.0.0.1
  constructor: 1
  ports: {__proto__: 80}
  __proto__: {address: 10.0.0.9}
`;
    assert.deepEqual(
      issuesOf(() => parseResources(text, 'p.yaml')).map((i) => `${i.field}: ${i.message}`),
      [
        'spec.constructor: unknown field constructor',
        'spec.ports.__proto__: "__proto__" cannot be used as a name here',
        'spec.__proto__: unknown field __proto__',
      ],
    );
  });

  test('duplicate keys are a syntax issue', () => {
    const [issue] = issuesOf(() => parseResources('kind: A\nkind: B\n', 'dup.yaml'));
    assert.deepEqual([issue.line, issue.reason], [2, 'syntax']);
    assert.match(issue.message, /unique/);
  });

  test('the same resource twice in one file is an issue', () => {
    const we =
      'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: a}\nspec: {address: 10.0.0.1}\n';
    const [issue] = issuesOf(() => parseResources(`${we}---\n${we}`, 'twice.yaml'));
    assert.equal(issue.document, 1);
    assert.equal(issue.field, 'metadata.name');
    assert.match(issue.message, /WorkloadEntry\/default\/a is also defined in document 0/);
  });
});
