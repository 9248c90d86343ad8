// `weft control-plane`: runs the control plane (store, registry, API, xDS) until SIGINT or SIGTERM.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import type { CaOptions } from '../control/ca/ca-service.ts';
import { MAX_CERT_TTL_MS, MIN_CERT_TTL_MS } from '../control/ca/certificate-authority.ts';
import { ControlPlane, type ControlPlaneConfig, type HostPort } from '../control/control-plane.ts';
import { chooseStore } from '../control/ha/store-choice.ts';
import { DEFAULT_GRACE_MS } from '../control/registry/memory.ts';
import { xdsControlPlaneParts } from '../control/xds/wiring.ts';
import { dashboardUrl } from '../dashboard/serve.ts';
import { UsageError } from '../errors.ts';
import { logger } from '../observe/log.ts';
import { requireDataDir, requireFreePort } from './preflight.ts';

interface ControlPlaneOptions {
  dataDir: string;
  api: string;
  xds: string;
  xdsPlaintext?: string;
  pushDebounce: string;
  telemetryInterval: string;
  prometheus?: string;
  registryGrace: string;
  trustDomain: string;
  caCert?: string;
  caKey?: string;
  caChain?: string;
  certTtl: string;
  outboundTrafficPolicy: string;
  store: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdLeaseTtl: string;
}

/** `127.0.0.1:15080`, `[::1]:15080`, `localhost:0` → host and port; anything else is a UsageError. */
export function parseHostPort(flag: string, text: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  const host = match ? (match[1] ?? match[2]) : '';
  if (!match || port > 65535 || host === '' || (match[1] !== undefined && isIP(host) !== 6))
    throw new UsageError(
      `${flag} ${JSON.stringify(text)} is not HOST:PORT; write it like 127.0.0.1:15080 (port 0 picks one)`,
    );
  return { host, port };
}

function milliseconds(flag: string, text: string): number {
  const result = parseDuration(text);
  if ('error' in result) throw new UsageError(`${flag}: ${result.error}`);
  return result.ms;
}

const TRUST_DOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export function toConfig(opts: ControlPlaneOptions): ControlPlaneConfig {
  if (!TRUST_DOMAIN.test(opts.trustDomain))
    throw new UsageError(
      `--trust-domain ${JSON.stringify(opts.trustDomain)} must be a DNS name like cluster.local`,
    );
  return {
    dataDir: resolve(opts.dataDir),
    api: parseHostPort('--api', opts.api),
    xds: parseHostPort('--xds', opts.xds),
    xdsPlaintext: opts.xdsPlaintext === undefined ? undefined : plaintextXds(opts.xdsPlaintext),
    pushDebounceMs: milliseconds('--push-debounce', opts.pushDebounce),
    telemetryIntervalMs: telemetryInterval(opts.telemetryInterval),
    prometheusUrl: opts.prometheus === undefined ? undefined : prometheusUrl(opts.prometheus),
    registryGraceMs: milliseconds('--registry-grace', opts.registryGrace),
    mesh: {
      trustDomain: opts.trustDomain,
      outboundTrafficPolicy: outboundTrafficPolicy(opts.outboundTrafficPolicy),
    },
    ca: caOptions(opts),
  };
}

/** `--telemetry-interval`: 1s to 60s (the history keeps 360 intervals: an hour at 10s). */
function telemetryInterval(text: string): number {
  const ms = milliseconds('--telemetry-interval', text);
  if (ms < 1000 || ms > 60_000)
    throw new UsageError(`--telemetry-interval ${text} is out of range: give 1s to 60s`);
  return ms;
}

/** `--prometheus`: an http(s) URL of a Prometheus server (its HTTP API is under /api/v1). */
function prometheusUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `--prometheus ${JSON.stringify(text)} is not a URL; write it like http://127.0.0.1:9090`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--prometheus ${text} must be an http:// or https:// URL`);
  return url.href.replace(/\/$/, '');
}

/** `--xds-plaintext`: loopback only (anyone who reaches it can read any proxy's configuration). */
function plaintextXds(text: string): HostPort {
  const address = parseHostPort('--xds-plaintext', text);
  if (!/^127\.\d+\.\d+\.\d+$|^::1$|^localhost$/.test(address.host))
    throw new UsageError(
      `--xds-plaintext ${text}: the plaintext xDS port serves configuration to anyone who reaches it, so it binds loopback only (127.0.0.1 or ::1)`,
    );
  return address;
}

/** `--outbound-traffic-policy`: Istio's MeshConfig outboundTrafficPolicy.mode (a MeshConfig resource overrides it). */
function outboundTrafficPolicy(text: string): 'ALLOW_ANY' | 'REGISTRY_ONLY' {
  const mode = text.toUpperCase();
  if (mode === 'ALLOW_ANY' || mode === 'REGISTRY_ONLY') return mode;
  throw new UsageError(
    `--outbound-traffic-policy ${JSON.stringify(text)} must be ALLOW_ANY or REGISTRY_ONLY`,
  );
}

/** `--ca-cert`/`--ca-key`/`--ca-chain` (a plug-in CA; both or neither of the first two) and `--cert-ttl`. */
function caOptions(opts: ControlPlaneOptions): CaOptions {
  if (Boolean(opts.caCert) !== Boolean(opts.caKey))
    throw new UsageError(
      '--ca-cert and --ca-key go together: give both, or neither to use the generated root',
    );
  if (opts.caChain && !opts.caCert) throw new UsageError('--ca-chain needs --ca-cert and --ca-key');
  const certTtlMs = milliseconds('--cert-ttl', opts.certTtl);
  if (certTtlMs < MIN_CERT_TTL_MS || certTtlMs > MAX_CERT_TTL_MS)
    throw new UsageError(`--cert-ttl ${opts.certTtl} is out of range: give 10s to 2160h (90 days)`);
  const plugin =
    opts.caCert && opts.caKey
      ? {
          certFile: resolve(opts.caCert),
          keyFile: resolve(opts.caKey),
          chainFile: opts.caChain ? resolve(opts.caChain) : undefined,
        }
      : undefined;
  return { certTtlMs, plugin };
}

export function register(program: Command): void {
  program
    .command('control-plane')
    .description('run the control plane: resource store, workload registry, HTTP API and xDS server')
    .option('--data-dir <dir>', 'directory for durable state (resources, CA)', '.weft')
    .option('--api <host:port>', 'HTTP API listen address (port 0 picks one)', '127.0.0.1:15080')
    .option(
      '--xds <host:port>',
      'xDS (ADS gRPC) listen address, mutual TLS with workload certificates (port 0 picks one)',
      '127.0.0.1:15010',
    )
    .option(
      '--xds-plaintext <host:port>',
      'also serve xDS without TLS on this loopback address, read-only (proxyless gRPC clients); off by default',
    )
    .option('--push-debounce <duration>', 'wait this long for more changes before pushing xDS', '100ms')
    .option(
      '--telemetry-interval <duration>',
      "how often the proxies' metrics are scraped for stat/edges/graph (360 intervals are kept)",
      '10s',
    )
    .option(
      '--prometheus <url>',
      'answer stat/edges/graph from this Prometheus (which scrapes the proxies) instead of scraping them',
    )
    .option(
      '--registry-grace <duration>',
      'keep a disconnected proxy registered this long',
      `${DEFAULT_GRACE_MS}ms`,
    )
    .option('--trust-domain <domain>', 'SPIFFE trust domain of workload identities', 'cluster.local')
    .option(
      '--ca-cert <file>',
      'PEM certificate of your own CA (root or intermediate); default: a generated root',
    )
    .option('--ca-key <file>', 'PEM private key of --ca-cert')
    .option('--ca-chain <file>', 'PEM certificates from the issuer of --ca-cert up to the root')
    .option('--cert-ttl <duration>', 'lifetime of workload certificates', '24h')
    .option(
      '--outbound-traffic-policy <mode>',
      'hosts that are no service: ALLOW_ANY passes them through, REGISTRY_ONLY answers 502 (a MeshConfig resource overrides it)',
      'ALLOW_ANY',
    )
    .option(
      '--store <store>',
      'file (embedded, in --data-dir) or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]',
      'file',
    )
    .option('--etcd-cacert <file>', 'PEM CA of the etcd members (TLS)')
    .option('--etcd-cert <file>', 'PEM client certificate for etcd')
    .option('--etcd-key <file>', 'PEM private key of --etcd-cert')
    .option(
      '--etcd-lease-ttl <duration>',
      'etcd: a dead replica is gone, and leadership moves, within this',
      '5s',
    )
    .action(async (opts: ControlPlaneOptions) => {
      const config = toConfig(opts);
      const store = chooseStore({ ...opts, leaseTtlMs: milliseconds('--etcd-lease-ttl', opts.etcdLeaseTtl) });
      // Busy ports and an unusable data directory fail before anything is written there (no new CA).
      await requireFreePort('--api', config.api.host, config.api.port);
      if (config.xds) await requireFreePort('--xds', config.xds.host, config.xds.port);
      requireDataDir('--data-dir', config.dataDir);
      const controlPlane = new ControlPlane(config, store.with(xdsControlPlaneParts()));
      const addresses = await controlPlane.start();
      await store.started(addresses);
      const log = logger({ component: 'control-plane' });
      let signals = 0;
      const shutdown = (signal: NodeJS.Signals) => {
        signals++;
        if (signals > 1) {
          log.warn({ signal }, 'second signal: exiting without a clean shutdown');
          process.exit(1);
        }
        log.info({ signal }, 'shutting down');
        controlPlane
          .stop()
          .then(() => store.close())
          .then(
            () => {
              process.exitCode = 0;
              // Everything is closed; exit even if a stray handle (a slow client socket) lingers.
              setTimeout(() => process.exit(0), 1000).unref();
            },
            (err: unknown) => {
              log.error({ err }, 'shutdown failed');
              process.exit(1);
            },
          );
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
      // Announced only once the signal handlers are in place: a supervisor that stops the control
      // plane as soon as it reads this line must get a clean shutdown, not a default-action kill.
      process.stdout.write(
        `weft control-plane ready: api ${addresses.apiUrl} xds ${addresses.xdsAddress ?? '(not served)'}${addresses.xdsPlaintextAddress ? ` xds-plaintext ${addresses.xdsPlaintextAddress}` : ''} data-dir ${controlPlane.config.dataDir}\n`,
      );
      process.stdout.write(`weft control-plane: dashboard ${dashboardUrl(addresses.apiUrl)}\n`);
    });
}
