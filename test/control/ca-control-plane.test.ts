// End to end: the CA inside a real `weft control-plane`, tokens from `weft token create`, certificates over HTTP.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { WorkloadIdentity } from '../../src/identity/workload-identity.ts';
import { splitPemCertificates } from '../../src/identity/x509.ts';
import { runCli } from '../helpers/cli.ts';
import { startWeft, type WeftProcess } from '../helpers/process.ts';
import { makeCsr, makeOpensslCa, tempDir } from '../identity/fixtures.ts';

const READY = /weft control-plane ready: api (http:\/\/127\.0\.0\.1:\d+)/;

async function startControlPlane(
  t: { after(fn: () => unknown): void },
  dataDir: string,
  extra: string[] = [],
): Promise<{ process: WeftProcess; url: string }> {
  const process = await startWeft(
    ['control-plane', '--data-dir', dataDir, '--api', '127.0.0.1:0', '--xds', '127.0.0.1:0', ...extra],
    { ready: READY },
  );
  t.after(() => process.stop());
  return { process, url: process.ready[1] };
}

async function mintWithCli(url: string, namespace: string, serviceAccount: string): Promise<string> {
  const result = await runCli([
    'token',
    'create',
    '--namespace',
    namespace,
    '--service-account',
    serviceAccount,
    '--server',
    url,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`token for spiffe://cluster.local/ns/${namespace}/sa/${serviceAccount}`),
  );
  return result.stdout.trim();
}

describe('CA in the control plane', () => {
  test('generated root, tokens from the CLI, certificates over HTTP, same root after a restart', async (t) => {
    const dataDir = await tempDir(t);
    let { process, url } = await startControlPlane(t, dataDir, ['--cert-ttl', '1h']);

    for (const [path, mode] of [
      ['ca', 0o700],
      ['ca/root-key.pem', 0o600],
      ['ca/token.key', 0o600],
      ['operator.token', 0o600],
    ] as const)
      assert.equal((await stat(join(dataDir, path))).mode & 0o777, mode, path);

    const bundleResponse = await fetch(`${url}/api/v1/trust-bundle`);
    assert.equal(bundleResponse.headers.get('content-type'), 'application/x-pem-file');
    const bundle = await bundleResponse.text();
    assert.equal(bundle.trim(), (await readFile(join(dataDir, 'ca', 'root-cert.pem'), 'utf8')).trim());

    const token = await mintWithCli(url, 'a', 'x');
    const identity = new WorkloadIdentity({ server: url, token });
    t.after(() => identity.close());
    const snapshot = await identity.start();
    assert.equal(snapshot.spiffeId, 'spiffe://cluster.local/ns/a/sa/x');
    assert.ok(
      Math.abs(snapshot.notAfter.getTime() - Date.now() - 3_600_000) < 10_000,
      '--cert-ttl 1h applies',
    );
    assert.equal(snapshot.trustBundlePem.trim(), bundle.trim());

    // The CSR asks for sa=y; the token grants sa=x; the leaf says sa=x.
    const post = (body: unknown, authorization?: string) =>
      fetch(`${url}/api/v1/certificates`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(body),
      });
    const { csrPem } = await makeCsr({ uris: ['spiffe://cluster.local/ns/a/sa/y'] });
    const ok = await post({ csr: csrPem }, `Bearer ${token}`);
    assert.equal(ok.status, 200);
    const chain = ((await ok.json()) as { certificateChain: string }).certificateChain;
    assert.equal(
      new X509Certificate(splitPemCertificates(chain)[0]).subjectAltName,
      'URI:spiffe://cluster.local/ns/a/sa/x',
    );

    const noToken = await post({ csr: csrPem });
    assert.equal(noToken.status, 401);
    assert.equal(((await noToken.json()) as { error: { code: string } }).error.code, 'WEFT_UNAUTHORIZED');
    assert.equal(
      (await post({ csr: csrPem }, `Bearer ${token.slice(0, -2)}${token.endsWith('xx') ? 'yy' : 'xx'}`))
        .status,
      401,
    );
    const badCsr = await post({ csr: 'not a csr' }, `Bearer ${token}`);
    assert.equal(badCsr.status, 400);
    assert.equal(((await badCsr.json()) as { error: { code: string } }).error.code, 'WEFT_BAD_REQUEST');

    // Restart: same root, and tokens minted before still work.
    await process.stop();
    ({ process, url } = await startControlPlane(t, dataDir));
    assert.equal((await (await fetch(`${url}/api/v1/trust-bundle`)).text()).trim(), bundle.trim());
    assert.equal((await post({ csr: csrPem }, `Bearer ${token}`)).status, 200);
  });

  test('plug-in intermediate from the command line; bad CA flags exit 1 with a message', async (t) => {
    const dir = await tempDir(t);
    const files = await makeOpensslCa(dir);
    const { url } = await startControlPlane(t, join(dir, 'data'), [
      '--ca-cert',
      files.intermediateCert,
      '--ca-key',
      files.intermediateKey,
      '--ca-chain',
      files.rootCert,
    ]);
    const bundle = await (await fetch(`${url}/api/v1/trust-bundle`)).text();
    assert.equal(bundle.trim(), (await readFile(files.rootCert, 'utf8')).trim());
    const identity = new WorkloadIdentity({ server: url, token: await mintWithCli(url, 'shop', 'cart') });
    t.after(() => identity.close());
    const snapshot = await identity.start();
    assert.equal(splitPemCertificates(snapshot.certChainPem).length, 2, 'leaf + intermediate');

    const base = [
      'control-plane',
      '--data-dir',
      join(dir, 'bad'),
      '--api',
      '127.0.0.1:0',
      '--xds',
      '127.0.0.1:0',
    ];
    const mismatch = await runCli([
      ...base,
      '--ca-cert',
      files.intermediateCert,
      '--ca-key',
      files.rootKey,
      '--ca-chain',
      files.rootCert,
    ]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /^error: .*root\.key is not the private key of the certificate in/m);
    assert.doesNotMatch(mismatch.stderr, /\n\s+at /, 'no stack trace');
    const half = await runCli([...base, '--ca-cert', files.intermediateCert]);
    assert.equal(half.code, 1);
    assert.match(half.stderr, /--ca-cert and --ca-key go together/);
    const ttl = await runCli([...base, '--cert-ttl', '1s']);
    assert.equal(ttl.code, 1);
    assert.match(ttl.stderr, /--cert-ttl 1s is out of range/);
  });
});
