// End to end: `weft proxyless` as a user runs it: the files the app finds, its exit code passed on, the temporary directory removed, and a control plane without a plaintext xDS port refused.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { startMeshControlPlane } from '../helpers/grpc-xds-scenario.ts';
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
  assert.equal(seen.xds, xds);
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

test('weft proxyless refuses a control plane without a plaintext xDS port, saying which flag it needs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-proxyless-noplain-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cp = await startWeft(
    ['control-plane', '--data-dir', join(dir, 'data'), '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0'],
    { ready: /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/ },
  );
  t.after(() => cp.stop());
  const run = await runCli([
    'proxyless',
    '--server',
    cp.ready[1],
    '--service-account',
    'reviews',
    '--',
    'true',
  ]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /serves no plaintext xDS port.*--xds-plaintext.*\[WEFT_USAGE\]/);
});
