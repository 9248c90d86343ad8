// Test fixtures for the CA and identity tests: temp data dirs, CSRs of every shape, openssl, quiet logs.
import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { type CryptoKeyPair, P256, subtle, x509 } from '../../src/identity/x509.ts';
import { setLogLevel } from '../../src/observe/log.ts';

setLogLevel(process.env.WEFT_LOG_LEVEL ?? 'silent');

const run = promisify(execFile);

/** A fresh directory removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'weft-ca-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs openssl; resolves to stdout+stderr and exit code (never rejects on a non-zero exit). */
export async function openssl(args: string[], cwd?: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('openssl', args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export type CsrKeyKind = 'p256' | 'p384' | 'rsa2048' | 'rsa1024';

const KEY_ALGORITHMS: Record<CsrKeyKind, { name: string; [k: string]: unknown }> = {
  p256: P256,
  p384: { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
  rsa2048: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  rsa1024: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
};

/** A CSR with a chosen key type, subject and requested SANs; returns the key PEM too. */
export async function makeCsr(
  options: { key?: CsrKeyKind; subject?: string; uris?: string[]; dns?: string[] } = {},
): Promise<{ csrPem: string; keyPem: string }> {
  const algorithm = KEY_ALGORITHMS[options.key ?? 'p256'];
  const keys = (await subtle.generateKey(algorithm as never, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = [
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: options.subject,
    keys,
    signingAlgorithm: algorithm,
    extensions: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
  return { csrPem: csr.toString('pem'), keyPem };
}
