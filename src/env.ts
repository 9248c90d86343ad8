// Environment variables weft reads: the only module that touches process.env for configuration.

/** Settings that come from the environment, read once at start. */
export interface Environment {
  /** Control-plane API URL for CLI commands and proxies (`WEFT_SERVER`). */
  server: string;
  /** Log level for every process (`WEFT_LOG_LEVEL`): trace, debug, info, warn, error, silent. */
  logLevel: string | undefined;
  /** Log format for every process (`WEFT_LOG_FORMAT`): text or json; absent: text on a terminal, else json. */
  logFormat: string | undefined;
  /** Operator token sent to a control plane on a non-loopback address (`WEFT_TOKEN`). */
  operatorToken: string | undefined;
  /**
   * Directories a proxy reads TLS files from when xDS names a file (DestinationRule and Gateway
   * `caCertificates`, `serverCertificate`, ...): `WEFT_TLS_FILE_DIRS`, separated by ':'. Default
   * Istio's mount points `/etc/certs` and `/etc/istio`.
   */
  tlsFileDirs: string[];
  /** Whether a graphical desktop is there to open URLs in (`DISPLAY` or `WAYLAND_DISPLAY` set; `weft dashboard`). */
  desktop: boolean;
  /**
   * `deferred` when bin/weft.js re-executed a sidecar with `--use-openssl-ca` so that Node's default CA
   * certificates load on first use (`WEFT_DEFAULT_CA`, set by weft itself; src/proxy/tls/default-trust.ts).
   */
  defaultCa: string | undefined;
  /** `off` stops the idle release's malloc_trim (`WEFT_MALLOC_TRIM`: `on`, the default, or `off`). */
  mallocTrim: string | undefined;
  /**
   * The malloc_trim addon bin/weft.js built for a sidecar (`WEFT_MALLOC_TRIM_ADDON`, set by weft
   * itself; bin/malloc-trim.js); absent: no trim.
   */
  mallocTrimAddon: string | undefined;
}

/** Where TLS files named in xDS may live unless WEFT_TLS_FILE_DIRS says otherwise. */
export const DEFAULT_TLS_FILE_DIRS = '/etc/certs:/etc/istio';

/** The default control-plane API address. */
export const DEFAULT_SERVER = 'http://127.0.0.1:15080';

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  return {
    server: env.WEFT_SERVER || DEFAULT_SERVER,
    logLevel: env.WEFT_LOG_LEVEL || undefined,
    logFormat: env.WEFT_LOG_FORMAT || undefined,
    operatorToken: env.WEFT_TOKEN || undefined,
    tlsFileDirs: (env.WEFT_TLS_FILE_DIRS || DEFAULT_TLS_FILE_DIRS).split(':').filter((d) => d !== ''),
    desktop: Boolean(env.DISPLAY || env.WAYLAND_DISPLAY),
    defaultCa: env.WEFT_DEFAULT_CA || undefined,
    mallocTrim: env.WEFT_MALLOC_TRIM,
    mallocTrimAddon: env.WEFT_MALLOC_TRIM_ADDON || undefined,
  };
}

/** Read once; commands take their defaults from here. */
export const environment: Environment = readEnvironment();
