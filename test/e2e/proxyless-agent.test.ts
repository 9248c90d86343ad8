// End to end: `weft proxyless` as a user runs it: the files the app finds, its exit code passed on, the temporary directory removed, and xDS through its mTLS relay.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startGreeter } from '../helpers/grpc-greeter.ts';
import { CLIENT_APPS, GRPC_ENV, withAgent } from '../helpers/grpc-xds-mtls.ts';
import {
  apply,
  GreeterClient,
  mesh,
  proxies,
  SPLIT,
  startMeshControlPlane,
  TARGET,
} from '../helpers/grpc-xds-scenario.ts';
import { startWeft } from '../helpers/process.ts';

/** What the app checks and prints: the bootstrap's xDS address and provider, and the SPIFFE ID of the certificate it names. */
const APP = `
const fs = require('node:fs');
const { X509Certificate } = require('node:crypto');
const file = process.env.GRPC_XDS_BOOTSTRAP;
const b = JSON.parse(fs.readFileSync(file, 'utf8'));
const p = b.certificate_providers.default;
const cert = new X509Certificate(fs.readFileSync(p.config.certificate_file));
fs.readFileSync(p.config.private_key_file);
fs.readFileSync(p.config.ca_certificate_file);
console.log(JSON.stringify({ file, xds: b.xds_servers[0].server_uri, plugin: p.plugin_name, san: cert.subjectAltName, node: b.node }));
process.exit(7);
`;

test('weft proxyless gives the app its bootstrap and certificate files, passes on its exit code and removes its files', async (t) => {
  const { api, xds } = await startMeshControlPlane(t, 'weft-proxyless-agent-');
  const run = await runCli([
    'proxyless',
    '--server',
    api,
    '--service-account',
    'reviews',
    '--namespace',
    'default',
    '--label',
    'app=reviews',
    '--',
    process.execPath,
    '-e',
    APP,
  ]);
  assert.equal(run.code, 7, run.stderr);
  const seen = JSON.parse(run.stdout) as {
    file: string;
    xds: string;
    plugin: string;
    san: string;
    node: { metadata: Record<string, unknown> };
  };
  // The app reads xDS from the agent's loopback relay, not from the control plane's plaintext port.
  assert.match(seen.xds, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(seen.xds, xds);
  assert.equal(seen.plugin, 'file_watcher');
  assert.equal(seen.san, 'URI:spiffe://cluster.local/ns/default/sa/reviews');
  assert.deepEqual(seen.node.metadata, {
    NAMESPACE: 'default',
    SERVICE_ACCOUNT: 'reviews',
    LABELS: { app: 'reviews' },
  });
  assert.match(
    run.stderr,
    /weft proxyless ready: bootstrap \S+ identity spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews/,
  );
  assert.equal(existsSync(seen.file), false, 'the temporary directory is removed when the app exits');
});

test('with a control plane that serves no plaintext xDS, a proxyless client gets its routes through the relay (mTLS)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-proxyless-relay-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cp = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/ },
  );
  t.after(() => cp.stop());
  const api = cp.ready[1];
  const v1 = await startGreeter('v1');
  t.after(() => v1.close());
  const v2 = await startGreeter('v2');
  t.after(() => v2.close());
  await apply(api, dir, 'mesh', mesh(v1.port, v2.port));
  await apply(api, dir, 'split', SPLIT);
  const client = new GreeterClient({
    command: process.execPath,
    args: withAgent(api, 'client', CLIENT_APPS.js(TARGET)),
    env: { ...process.env, ...GRPC_ENV },
  });
  t.after(() => client.close());
  const split = await client.run(200);
  assert.equal((split.v1 ?? 0) + (split.v2 ?? 0), 200, JSON.stringify(split));
  assert.ok(split.v1 > split.v2, `the 80/20 route applies: ${JSON.stringify(split)}`);
  // That control plane serves xDS over mTLS only: the client's stream is the relay's, under its identity.
  const node = (await proxies(api)).proxies.find((p) => p.nodeId.startsWith('proxyless~default~client~'));
  assert.ok(node, 'the client is connected');
});
