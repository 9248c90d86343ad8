// The shapes of `weft check`: a check, its result, the categories they are printed under.

/** How one check ended. `warn` and `info` never fail the run; `skipped` means a check it needs failed. */
export type CheckOutcome = 'pass' | 'fail' | 'warn' | 'info' | 'skipped';

/** What one check found. */
export interface CheckResult {
  /** What is checked, phrased as the healthy state: `control plane is ready`. */
  name: string;
  outcome: CheckOutcome;
  /** What was found (shown under the name on failure, after it otherwise). */
  detail?: string;
  /** What to do about a failure or warning. */
  hint?: string;
}

/** A titled group of results, printed together (`control-plane`, `proxies`, ...). */
export interface CategoryResult {
  category: string;
  results: CheckResult[];
}

/** The whole run: `success` is true when no check failed. */
export interface CheckReport {
  server: string;
  success: boolean;
  categories: CategoryResult[];
}

/** What every check may use. */
export interface CheckConfig {
  /** Control-plane API URL. */
  server: string;
  /** Version of this CLI, compared with the control plane's. */
  cliVersion: string;
  /** Per-request timeout (ms). */
  requestTimeoutMs: number;
  /** A root CA expiring sooner than this fails (ms); 30 days by default. */
  rootExpiryMarginMs: number;
  /** Largest tolerated clock difference with the control plane (ms); 5 s by default. */
  maxClockSkewMs: number;
  /** How long to wait for proxies that are STALE (sent, not yet ACKed) to catch up (ms). */
  staleGraceMs: number;
  /** The well-known ports to report on, with what uses them by default. */
  ports: { port: number; role: string }[];
}
