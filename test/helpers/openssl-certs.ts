// Test helper: a CA and a server certificate made with the openssl command line, as a user would make them.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM files of one test CA and one server certificate signed by it. */
export interface CertificateFiles {
  /** The CA certificate clients trust (`curl --cacert`). */
  ca: string;
  /** Server certificate and private key. */
  cert: string;
  key: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** Creates `<prefix>-ca.pem`, `<prefix>-cert.pem` and `<prefix>-key.pem` in `dir` (ECDSA P-256, SANs = `hosts`). */
export function makeCertificates(dir: string, prefix: string, hosts: readonly string[]): CertificateFiles {
  const file = (name: string) => join(dir, `${prefix}-${name}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca-key.pem'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    `/CN=${prefix} test CA`,
  ]);
  openssl(['req', ...ec, '-keyout', file('key.pem'), '-out', file('req.csr'), '-subj', `/CN=${hosts[0]}`]);
  writeFileSync(file('ext.cnf'), `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}\n`);
  openssl([
    'x509',
    '-req',
    '-in',
    file('req.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca-key.pem'),
    '-CAcreateserial',
    '-out',
    file('cert.pem'),
    '-days',
    '2',
    '-extfile',
    file('ext.cnf'),
  ]);
  return { ca: file('ca.pem'), cert: file('cert.pem'), key: file('key.pem') };
}

/**
 * Signs a client certificate (`<prefix>-client-cert.pem`, `<prefix>-client-key.pem`) with the CA
 * `makeCertificates(dir, prefix, ...)` made, for servers that ask for client certificates.
 */
export function makeClientCertificate(
  dir: string,
  prefix: string,
  commonName: string,
): { cert: string; key: string } {
  const file = (name: string) => join(dir, `${prefix}-${name}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    ...ec,
    '-keyout',
    file('client-key.pem'),
    '-out',
    file('client.csr'),
    '-subj',
    `/CN=${commonName}`,
  ]);
  writeFileSync(file('client-ext.cnf'), 'extendedKeyUsage=clientAuth\n');
  openssl([
    'x509',
    '-req',
    '-in',
    file('client.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca-key.pem'),
    '-CAcreateserial',
    '-out',
    file('client-cert.pem'),
    '-days',
    '2',
    '-extfile',
    file('client-ext.cnf'),
  ]);
  return { cert: file('client-cert.pem'), key: file('client-key.pem') };
}
