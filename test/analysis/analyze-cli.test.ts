// `weft analyze` and `weft apply` against a real control plane: findings with file, line and hint; apply still applies.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ControlPlane } from '../../src/control/control-plane.ts';
import { setLogLevel } from '../../src/observe/log.ts';
import { BROKEN, WORKLOADS } from '../helpers/analyze-fixture.ts';
import { runCli } from '../helpers/cli.ts';

setLogLevel('silent');

test('weft analyze -f, weft apply and weft analyze over what the control plane holds', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'weft-analyze-'));
  const cp = new ControlPlane({
    dataDir,
    api: { host: '127.0.0.1', port: 0 },
    xds: { host: '127.0.0.1', port: 0 },
    pushDebounceMs: 10,
    registryGraceMs: 50,
  });
  const { apiUrl } = await cp.start();
  t.after(async () => {
    await cp.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  for (const workload of WORKLOADS) cp.registry.join(workload);

  const before = await runCli(['analyze', '-f', BROKEN, '--server', apiUrl]);
  assert.equal(before.code, 0, before.stderr);
  const lines = before.stdout.trim().split('\n');
  assert.equal(lines.length, 7, before.stdout);
  assert.ok(
    lines.includes(
      `${BROKEN}:12:41: VirtualService default/reviews: spec.http[0].route[1].destination.subset: subset v3 is not defined by DestinationRule default/reviews for reviews.default.svc.cluster.local, so every request routed here fails with 503 (NC) (fix: add subset v3 to DestinationRule default/reviews, or route to one it defines (v1, v2)) [SubsetNotFound]`,
    ),
    before.stdout,
  );
  assert.match(before.stderr, /^7 problems found\.$/m);

  const applied = await runCli(['apply', '-f', BROKEN, '--server', apiUrl]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /virtualservice\.networking\.istio\.io\/reviews created/);
  const warned = applied.stderr.split('\n').filter((l) => l.startsWith('Warning: '));
  assert.equal(warned.length, 7, applied.stderr);
  assert.ok(
    warned.some(
      (l) => l.includes(`${BROKEN}:33:26: VirtualService default/ratings`) && l.includes('[HostNotFound]'),
    ),
  );

  const stored = await runCli(['analyze', '-o', 'json', '--server', apiUrl]);
  assert.equal(stored.code, 0, stored.stderr);
  const { findings } = JSON.parse(stored.stdout) as { findings: { code: string; file?: string }[] };
  assert.equal(findings.length, 7);
  assert.ok(
    findings.every((f) => f.file === undefined),
    'stored resources have no file',
  );

  const route = await runCli(['get', 'httproute', 'shop', '-o', 'json', '--server', apiUrl]);
  assert.equal(route.code, 0, route.stderr);
  assert.deepEqual((JSON.parse(route.stdout) as { status: unknown }).status, {
    parents: [
      {
        parentRef: {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          namespace: 'default',
          name: 'missing-gateway',
        },
        controllerName: 'weft.dev/gateway-controller',
        conditions: [
          {
            type: 'Accepted',
            status: 'False',
            reason: 'NoMatchingParent',
            message: 'Gateway default/missing-gateway (gateway.networking.k8s.io) does not exist',
            observedGeneration: 1,
          },
          {
            type: 'ResolvedRefs',
            status: 'True',
            reason: 'ResolvedRefs',
            message: 'every backendRef resolves',
            observedGeneration: 1,
          },
        ],
      },
    ],
    validationMessages: [
      {
        code: 'RouteNotAttached',
        field: 'spec.parentRefs[0]',
        message:
          'the HTTPRoute attaches to no Gateway or Service, so it routes nothing: Gateway default/missing-gateway (gateway.networking.k8s.io) does not exist',
      },
    ],
  });
  const vs = await runCli(['get', 'vs', 'reviews', '-o', 'yaml', '--server', apiUrl]);
  assert.match(vs.stdout, /status:\n {2}conditions:\n {4}- type: Accepted\n {6}status: "True"/);
  assert.match(
    vs.stdout,
    /- type: ResolvedRefs\n {6}status: "False"\n {6}reason: SubsetNotFound\n {6}message: subset v3 is not defined/,
  );

  const checked = await runCli(['check', '--server', apiUrl]);
  assert.match(
    checked.stdout,
    /‼ configuration has no mesh problems \(weft analyze\)\n {4}7 problems: 1 SelectorMatchesNothing, 1 DestinationRuleHostNotFound, 1 RouteNotAttached, 2 ConflictingVirtualServices, 1 HostNotFound, 1 SubsetNotFound\n {4}hint: run `weft analyze`/,
  );

  const local = await runCli(['analyze', '--local', '-f', BROKEN]);
  assert.equal(local.code, 0, local.stderr);
  assert.match(local.stderr, /^4 problems found\.$/m);
});
