// The user's own CA (Istio's "plug-in CA"): a root or intermediate certificate and key given as PEM files.
import { readFile } from 'node:fs/promises';
import { CaInvalidError } from '../../errors.ts';
import { splitPemCertificates } from '../../identity/x509.ts';
import { logger } from '../../observe/log.ts';
import {
  assertKeyMatches,
  assertUsableCa,
  type CaMaterial,
  parseCertificate,
  pathToRoot,
} from './ca-material.ts';
import { nonOwnerBits } from './files.ts';
import { importSigningKey } from './signing-key.ts';

/** The files of a plug-in CA (`--ca-cert`, `--ca-key`, `--ca-chain`). */
export interface PluginCaFiles {
  /** PEM certificate of the CA that signs workloads (first certificate in the file; any others count as chain). */
  certFile: string;
  /** PEM private key of that certificate (PKCS#8, SEC1 or PKCS#1, unencrypted). */
  keyFile: string;
  /**
   * PEM certificates from the CA's issuer up to and including the self-signed root, in any order.
   * Not needed when `certFile` is itself a root.
   */
  chainFile?: string;
}

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new CaInvalidError(`${flag} ${path}: cannot read (${why})`);
  }
}

/**
 * Loads and validates a plug-in CA: the key matches the certificate, the certificate (and every
 * intermediate) is a CA valid now, and the chain verifies up to a self-signed root, which becomes
 * the trust bundle.
 */
export async function loadPluginCa(files: PluginCaFiles, now: number): Promise<CaMaterial> {
  const certBlocks = splitPemCertificates(await readText(files.certFile, '--ca-cert'));
  if (certBlocks.length === 0)
    throw new CaInvalidError(`--ca-cert ${files.certFile}: no PEM certificate in the file`);
  const cert = parseCertificate(certBlocks[0], files.certFile);
  const keyPem = await readText(files.keyFile, '--ca-key');
  if ((await nonOwnerBits(files.keyFile)) !== 0)
    logger({ component: 'ca' }).warn(
      { key: files.keyFile },
      'CA key file is readable by others than its owner; chmod 600 it',
    );
  const signingKey = await importSigningKey(keyPem, files.keyFile);
  assertKeyMatches(signingKey, cert, files.keyFile, files.certFile);
  assertUsableCa(cert, files.certFile, now);

  const pool = certBlocks
    .slice(1)
    .map((pem, i) => parseCertificate(pem, `${files.certFile} (certificate ${i + 2})`));
  if (files.chainFile) {
    const chainBlocks = splitPemCertificates(await readText(files.chainFile, '--ca-chain'));
    if (chainBlocks.length === 0)
      throw new CaInvalidError(`--ca-chain ${files.chainFile}: no PEM certificate in the file`);
    for (const [i, pem] of chainBlocks.entries())
      pool.push(parseCertificate(pem, `${files.chainFile} (certificate ${i + 1})`));
  }
  const source = files.chainFile ?? files.certFile;
  const path = pathToRoot(cert, pool, source);
  for (const issuer of path) assertUsableCa(issuer, source, now);
  const root = path.length === 0 ? cert : path[path.length - 1];
  const signingPath = [cert, ...path.slice(0, -1)];
  const notAfter = Math.min(...[cert, ...path].map((c) => c.validToDate.getTime()));
  return {
    mode: 'plugin',
    signingCert: cert,
    signingKey,
    chainPem: path.length === 0 ? [] : signingPath.map((c) => c.toString()),
    rootsPem: [root.toString()],
    notAfter: new Date(notAfter),
    files: { cert: files.certFile, key: files.keyFile, chain: files.chainFile },
  };
}
