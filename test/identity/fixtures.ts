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
  rsa2048: {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
  rsa1024: {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 1024,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  },
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

/** Files of a CA made with the openssl CLI, as a user would for `--ca-cert/--ca-key/--ca-chain`. */
export interface OpensslCa {
  rootCert: string;
  rootKey: string;
  intermediateCert: string;
  intermediateKey: string;
  /** A leaf (CA:false) certificate and key signed by the root: not usable as a CA. */
  leafCert: string;
  leafKey: string;
}

async function mustOpenssl(args: string[], cwd: string): Promise<void> {
  const result = await openssl(args, cwd);
  if (result.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.output}`);
}

/**
 * Makes, in `dir`, an EC P-256 root (SEC1 key file), an RSA-2048 intermediate signed by it
 * (PKCS#8 key) and a non-CA leaf, with the openssl CLI.
 */
export async function makeOpensslCa(dir: string): Promise<OpensslCa> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(
    join(dir, 'ext.cnf'),
    [
      '[ca]',
      'basicConstraints = critical, CA:TRUE, pathlen:0',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '[leaf]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      '',
    ].join('\n'),
  );
  await mustOpenssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root.key'], dir);
  await mustOpenssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'root.key',
      '-subj',
      '/O=Example Corp/CN=Example Root CA',
      '-days',
      '3650',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'root.pem',
    ],
    dir,
  );
  for (const [name, subject, section, keyArgs] of [
    [
      'intermediate',
      '/O=Example Corp/CN=weft intermediate',
      'ca',
      ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
    ],
    [
      'leaf',
      '/O=Example Corp/CN=not a ca',
      'leaf',
      ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    ],
  ] as const) {
    await mustOpenssl(['genpkey', ...keyArgs, '-out', `${name}.key`], dir);
    await mustOpenssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
    await mustOpenssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'root.pem',
        '-CAkey',
        'root.key',
        '-set_serial',
        String(Date.now()),
        '-days',
        '365',
        '-extfile',
        'ext.cnf',
        '-extensions',
        section,
        '-out',
        `${name}.pem`,
      ],
      dir,
    );
  }
  return {
    rootCert: join(dir, 'root.pem'),
    rootKey: join(dir, 'root.key'),
    intermediateCert: join(dir, 'intermediate.pem'),
    intermediateKey: join(dir, 'intermediate.key'),
    leafCert: join(dir, 'leaf.pem'),
    leafKey: join(dir, 'leaf.key'),
  };
}

/**
 * Serves a CaApi over real HTTP on 127.0.0.1 with the error body the control-plane API uses, and
 * a switch to answer 503 (a control plane that is down or restarting).
 */
export async function serveCaApi(
  t: TestContext,
  api: import('../../src/control/ca/api.ts').CaApi,
): Promise<{ url: string; requests: number; unavailable: boolean }> {
  const { createServer } = await import('node:http');
  const { WeftError } = await import('../../src/errors.ts');
  const state = { url: '', requests: 0, unavailable: false };
  const server = createServer(async (req, res) => {
    state.requests++;
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (state.unavailable)
      return send(503, 'application/json', '{"error":{"code":"WEFT_SERVER_UNAVAILABLE","message":"down"}}');
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString();
      const request = {
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress,
        readJson: async () => JSON.parse(text),
      };
      const answer =
        req.url === '/api/v1/certificates'
          ? await api.issueCertificate(request)
          : req.url === '/api/v1/tokens'
            ? await api.createToken(request)
            : api.trustBundle();
      send(
        answer.status,
        answer.contentType,
        typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body),
      );
    } catch (err) {
      const e = err instanceof WeftError ? err : new WeftError('WEFT_INTERNAL', String(err), { status: 500 });
      send(e.status, 'application/json', JSON.stringify({ error: e.toJSON() }));
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  state.url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  return state;
}

/** Timers under the test's control: `unref` timers wait for `fire()`, `ref` timers (start-up retries) run at once. */
export class FakeTimers {
  #now = Date.now();
  #next = 1;
  readonly pending = new Map<number, { callback: () => void; at: number; ms: number }>();

  now = (): number => this.#now;

  setTimeout = (callback: () => void, ms: number, mode: 'ref' | 'unref'): number => {
    const id = this.#next++;
    if (mode === 'ref') {
      setImmediate(() => {
        this.#now += ms;
        callback();
      });
      return id;
    }
    this.pending.set(id, { callback, at: this.#now + ms, ms });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };

  /** The one pending renewal timer (fails the test if there are none or several). */
  only(): { id: number; ms: number } {
    if (this.pending.size !== 1) throw new Error(`expected one pending timer, found ${this.pending.size}`);
    const [[id, timer]] = [...this.pending];
    return { id, ms: timer.ms };
  }

  /** Moves the clock to the timer's due time and runs it. */
  fire(id: number): void {
    const timer = this.pending.get(id);
    if (!timer) throw new Error(`no pending timer ${id}`);
    this.pending.delete(id);
    this.#now = Math.max(this.#now, timer.at);
    timer.callback();
  }
}
