// A sidecar started with --use-openssl-ca and WEFT_DEFAULT_CA=deferred: Node's default CA store stays empty until an https request needs it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { sidecarEnvToAdd, sidecarFlagsToAdd } from '../../bin/sidecar-flags.js';
import { makeCertificates } from '../helpers/openssl-certs.ts';

const src = (path: string) => pathToFileURL(join(import.meta.dirname, '..', '..', 'src', path)).href;

// Run in the child: an https GET without useDefaultTrust (must fail verification: the store is
// empty), then the CA API's postJson (which loads Node's defaults, NODE_EXTRA_CA_CERTS with them).
const CHILD = `
import tls from 'node:tls';
import https from 'node:https';
import { deferDefaultTrust } from '${src('proxy/tls/default-trust.ts')}';
import { postJson } from '${src('identity/post-json.ts')}';
deferDefaultTrust();
const url = process.env.TEST_URL;
const before = tls.getCACertificates('default').length;
const direct = await new Promise((done) =>
  https.get(url, { agent: false }, (res) => { res.resume(); done('answered'); }).on('error', (e) => done(e.code)));
const res = await postJson(new URL(url), {}, { timeoutMs: 10000 });
const after = tls.getCACertificates('default');
process.stdout.write(JSON.stringify({ before, direct, status: res.status, after: after.length,
  bundled: tls.getCACertificates('bundled').length, extra: tls.getCACertificates('extra').length }));
`;

test('the default CA certificates load on first use, NODE_EXTRA_CA_CERTS with them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-default-trust-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = makeCertificates(dir, 'api', ['localhost']);
  const server = https.createServer(
    { cert: readFileSync(files.cert), key: readFileSync(files.key) },
    (_req, res) => res.end('{}'),
  );
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  // What bin/weft.js adds for a plain `weft proxy`.
  const flags = sidecarFlagsToAdd([], '', {});
  assert.ok(flags.includes('--use-openssl-ca'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...sidecarEnvToAdd({}, flags),
    NODE_EXTRA_CA_CERTS: files.ca,
  };
  delete env.NODE_OPTIONS;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...flags, '--input-type=module', '-e', CHILD],
    // Bounded: a TLS request that never answers would otherwise hang the test.
    { env: { ...env, TEST_URL: `https://localhost:${port}/` }, timeout: 30_000, encoding: 'utf8' },
  );
  const out = JSON.parse(stdout);
  assert.equal(out.before, 0, 'the default store is empty at start');
  assert.match(out.direct, /^(UNABLE_TO_|SELF_SIGNED)/, 'nothing verifies against the empty store');
  assert.equal(out.status, 200, 'the CA API request verified the server with NODE_EXTRA_CA_CERTS');
  assert.equal(out.extra, 1);
  assert.equal(out.after, out.bundled + out.extra, "Node's default: bundled roots and NODE_EXTRA_CA_CERTS");
});

test('a user who chose a CA store keeps it: no --use-openssl-ca, no deferral', () => {
  for (const chosen of ['--use-system-ca', '--use-bundled-ca', '--use-openssl-ca']) {
    const flags = sidecarFlagsToAdd([chosen], '', {});
    assert.ok(!flags.includes('--use-openssl-ca'), chosen);
    assert.equal(sidecarEnvToAdd({}, flags).WEFT_DEFAULT_CA, undefined, chosen);
  }
  const flags = sidecarFlagsToAdd([], '', { NODE_USE_SYSTEM_CA: '1' });
  assert.ok(!flags.includes('--use-openssl-ca'));
  assert.equal(sidecarEnvToAdd({}, flags).WEFT_DEFAULT_CA, undefined);
});
