// `--store etcd://HOST:PORT[,HOST:PORT...][/PREFIX][?cacert=&cert=&key=]` and the --etcd-* TLS flags, parsed once.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Etcd3, type IOptions } from 'etcd3';
import { UsageError } from '../../errors.ts';

/** How a control plane reaches its etcd cluster. */
export interface EtcdConfig {
  /** Client URLs of the members, `http://h:p` or `https://h:p` (https when a CA is given). */
  endpoints: string[];
  /** Key prefix every weft key lives under, e.g. `/weft` (no trailing slash). */
  prefix: string;
  /** PEM file of the CA that signed the members' certificates (`--etcd-cacert`, `?cacert=`). */
  caFile?: string;
  /** PEM client certificate and key (`--etcd-cert`/`--etcd-key`, `?cert=`/`?key=`), for client-cert auth. */
  certFile?: string;
  keyFile?: string;
}

/** The TLS flags as etcdctl names them; each overrides the URL parameter of the same meaning. */
export interface EtcdTlsFlags {
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** Parses `--store`; anything that is not `etcd://...` is a UsageError naming what to write. */
export function parseEtcdStore(text: string, flags: EtcdTlsFlags = {}): EtcdConfig {
  const bad = (why: string) =>
    new UsageError(
      `--store ${JSON.stringify(text)}: ${why}; write etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (TLS: --etcd-cacert, --etcd-cert, --etcd-key)`,
    );
  if (!text.startsWith('etcd://'))
    throw bad('only etcd:// stores are supported besides the default file store');
  const rest = text.slice('etcd://'.length);
  const queryAt = rest.indexOf('?');
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const params = new URLSearchParams(queryAt < 0 ? '' : rest.slice(queryAt + 1));
  const slash = beforeQuery.indexOf('/');
  const hosts = (slash < 0 ? beforeQuery : beforeQuery.slice(0, slash)).split(',').filter((h) => h !== '');
  const path = slash < 0 ? '' : beforeQuery.slice(slash).replace(/\/+$/, '');
  if (hosts.length === 0) throw bad('no host given');
  for (const h of hosts) {
    if (!HOST_PORT.test(h) || Number(h.slice(h.lastIndexOf(':') + 1)) > 65535)
      throw bad(`${JSON.stringify(h)} is not HOST:PORT`);
  }
  for (const key of params.keys())
    if (!['cacert', 'cert', 'key'].includes(key)) throw bad(`unknown parameter ${JSON.stringify(key)}`);
  const caFile = flags.etcdCacert ?? params.get('cacert') ?? undefined;
  const certFile = flags.etcdCert ?? params.get('cert') ?? undefined;
  const keyFile = flags.etcdKey ?? params.get('key') ?? undefined;
  if (Boolean(certFile) !== Boolean(keyFile))
    throw new UsageError('--etcd-cert and --etcd-key go together: give both, or neither');
  if (certFile && !caFile)
    throw new UsageError('--etcd-cert needs --etcd-cacert (the CA that signed the etcd members)');
  const scheme = caFile ? 'https' : 'http';
  return {
    endpoints: hosts.map((h) => `${scheme}://${h}`),
    prefix: path === '' ? '/weft' : path,
    ...(caFile ? { caFile: resolve(caFile) } : {}),
    ...(certFile ? { certFile: resolve(certFile) } : {}),
    ...(keyFile ? { keyFile: resolve(keyFile) } : {}),
  };
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The client TLS settings of `config` for an Etcd3 client (none without a CA). */
export function etcdCredentials(config: EtcdConfig): Pick<IOptions, 'credentials'> {
  if (!config.caFile) return {};
  return {
    credentials: {
      rootCertificate: readPem('--etcd-cacert', config.caFile),
      ...(config.certFile && config.keyFile
        ? {
            certChain: readPem('--etcd-cert', config.certFile),
            privateKey: readPem('--etcd-key', config.keyFile),
          }
        : {}),
    },
  };
}

/** A client for the cluster: requests go to any healthy member, retried on another when one fails. */
export function connectEtcd(config: EtcdConfig): Etcd3 {
  return new Etcd3({
    hosts: config.endpoints,
    dialTimeout: 5000,
    ...etcdCredentials(config),
    // A non-streaming call that hangs (a partitioned member) fails and is retried elsewhere.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 5000 }),
  });
}
