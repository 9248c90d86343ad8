// DestinationRule traffic policies: load balancing, connection pools, outlier detection, client TLS.
import type {
  ClientTlsSettings,
  ConnectionPoolSettings,
  LoadBalancerPolicy,
  OutlierDetectionSettings,
  RetryBudgetSettings,
  TrafficPolicy,
} from '../../model/types.ts';
import type { Fields, Reader } from '../read.ts';
import {
  boolean,
  count,
  defined,
  duration,
  integer,
  nonEmptyString,
  object,
  oneOf,
  stringList,
} from '../read.ts';
import { percent, portSelector, uniqueList } from './common.ts';

/** Istio's proto3 integers treat 0 as "not set": such fields are left out of the model. */
function setting(f: Fields, key: string): number | undefined {
  const value = f.optional(key, integer(0, 2 ** 31 - 1));
  return value === 0 ? undefined : value;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

const maglevTableSize: Reader<number> = (check, value, path) => {
  const size = integer(2, 5_000_011)(check, value, path);
  if (size === undefined || isPrime(size)) return size;
  check.error(path, `Maglev table size must be a prime number (Envoy's rule), got ${size}`);
  return undefined;
};

const HASH_KEYS = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const;

const consistentHash = object(
  (f): Extract<LoadBalancerPolicy, { consistentHash: unknown }>['consistentHash'] | undefined => {
    const present = HASH_KEYS.filter((key) => f.has(key));
    const header = f.optional('httpHeaderName', nonEmptyString);
    const cookie = f.optional(
      'httpCookie',
      object(
        (c) =>
          defined<{ name: string; path?: string; ttlMs?: number }>({
            name: c.required('name', nonEmptyString) ?? '',
            path: c.optional('path', nonEmptyString),
            ttlMs: c.optional('ttl', duration(0)),
          }),
        { unsupported: { attributes: 'cookie attributes are not implemented' } },
      ),
    );
    const sourceIp = f.optional('useSourceIp', boolean);
    const query = f.optional('httpQueryParameterName', nonEmptyString);
    const ring = f.optional(
      'ringHash',
      object((r) => ({ minimumRingSize: r.optional('minimumRingSize', count) })),
    );
    const maglev = f.optional(
      'maglev',
      object((m) => ({ tableSize: m.optional('tableSize', maglevTableSize) })),
    );
    const legacyRing = f.optional('minimumRingSize', count);
    if (f.has('minimumRingSize'))
      f.check.warn(f.at('minimumRingSize'), 'deprecated in Istio; use ringHash.minimumRingSize');
    const algorithms = (['ringHash', 'maglev', 'minimumRingSize'] as const).filter((key) => f.has(key));
    if (algorithms.length > 1) f.check.error(f.path, `set only one of ${algorithms.join(', ')}`);
    if (present.length !== 1) {
      f.check.error(
        f.path,
        present.length === 0
          ? `a consistent hash needs one of ${HASH_KEYS.join(', ')}`
          : `set only one of ${present.join(', ')}`,
        present.length === 0 ? 'missing' : 'invalid',
      );
      return undefined;
    }
    if (f.has('useSourceIp') && sourceIp !== true) {
      f.check.error(
        f.at('useSourceIp'),
        'useSourceIp: false hashes on nothing; set it to true or pick another key',
      );
      return undefined;
    }
    const key =
      header !== undefined
        ? { httpHeaderName: header }
        : cookie !== undefined
          ? { httpCookie: cookie }
          : query !== undefined
            ? { httpQueryParameterName: query }
            : { useSourceIp: true as const };
    return defined({
      key,
      algorithm: maglev !== undefined ? ('MAGLEV' as const) : ('RING_HASH' as const),
      minimumRingSize: ring?.minimumRingSize ?? legacyRing,
      maglevTableSize: maglev?.tableSize,
    });
  },
);

const SIMPLE = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH', 'UNSPECIFIED'] as const;

const loadBalancer: Reader<LoadBalancerPolicy> = object(
  (f): LoadBalancerPolicy | undefined => {
    const simple = f.optional('simple', oneOf(SIMPLE, { LEAST_CONN: 'LEAST_REQUEST' }));
    const hash = f.optional('consistentHash', consistentHash);
    if (f.has('simple') && f.has('consistentHash')) {
      f.check.error(f.path, 'set either simple or consistentHash, not both');
      return undefined;
    }
    if (hash !== undefined) return { consistentHash: hash };
    return { simple: simple ?? 'UNSPECIFIED' };
  },
  {
    unsupported: {
      localityLbSetting: 'locality-aware load balancing is not implemented',
      warmupDurationSecs: 'slow-start warm-up is not implemented',
      warmup: 'slow-start warm-up is not implemented',
      backendUtilization: 'load reports from backends are not implemented; use LEAST_REQUEST',
      zoneAwareLbSetting: 'locality-aware load balancing is not implemented',
    },
  },
);

const connectionPool: Reader<ConnectionPoolSettings> = object((f) =>
  defined<ConnectionPoolSettings>({
    tcp: f.optional(
      'tcp',
      object(
        (t) =>
          defined<NonNullable<ConnectionPoolSettings['tcp']>>({
            maxConnections: setting(t, 'maxConnections'),
            connectTimeoutMs: t.optional('connectTimeout', duration()),
            idleTimeoutMs: t.optional('idleTimeout', duration()),
            maxConnectionDurationMs: t.optional('maxConnectionDuration', duration()),
          }),
        { unsupported: { tcpKeepalive: 'TCP keep-alive settings are not implemented' } },
      ),
    ),
    http: f.optional(
      'http',
      object(
        (h) =>
          defined<NonNullable<ConnectionPoolSettings['http']>>({
            http1MaxPendingRequests: setting(h, 'http1MaxPendingRequests'),
            http2MaxRequests: setting(h, 'http2MaxRequests'),
            maxRequestsPerConnection: setting(h, 'maxRequestsPerConnection'),
            maxRetries: setting(h, 'maxRetries'),
            idleTimeoutMs: h.optional('idleTimeout', duration()),
            h2UpgradePolicy: h.optional('h2UpgradePolicy', oneOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'])),
          }),
        {
          unsupported: {
            useClientProtocol: 'the upstream protocol follows the service port protocol',
            maxConcurrentStreams: 'per-connection stream limits are not implemented',
            http2KeepAlive: 'HTTP/2 keep-alive pings are not implemented',
          },
        },
      ),
    ),
  }),
);

const outlierDetection: Reader<OutlierDetectionSettings> = object(
  (f) => {
    const settings = defined<OutlierDetectionSettings>({
      consecutive5xxErrors: f.optional('consecutive5xxErrors', count),
      consecutiveGatewayErrors: f.aliased(
        'consecutiveGatewayErrors',
        'consecutiveGatewayFailure',
        "consecutiveGatewayFailure is Envoy's name for Istio's consecutiveGatewayErrors",
        count,
      ),
      consecutiveLocalOriginFailures: f.optional('consecutiveLocalOriginFailures', count),
      intervalMs: f.optional('interval', duration()),
      baseEjectionTimeMs: f.optional('baseEjectionTime', duration()),
      maxEjectionPercent: f.optional('maxEjectionPercent', integer(0, 100)),
      minHealthPercent: f.optional('minHealthPercent', integer(0, 100)),
      splitExternalLocalOriginErrors: f.optional('splitExternalLocalOriginErrors', boolean),
    });
    // Istio's deprecated consecutiveErrors counted 502/503/504 only: it becomes consecutiveGatewayErrors.
    const legacy = f.optional('consecutiveErrors', count);
    if (legacy !== undefined) {
      if (settings.consecutiveGatewayErrors !== undefined)
        f.check.warn(
          f.at('consecutiveErrors'),
          'deprecated and overridden by consecutiveGatewayErrors; ignored',
        );
      else {
        settings.consecutiveGatewayErrors = legacy;
        f.check.warn(
          f.at('consecutiveErrors'),
          'deprecated in Istio; read as consecutiveGatewayErrors (502, 503, 504), as Istio did; use consecutive5xxErrors or consecutiveGatewayErrors',
        );
      }
    }
    if (
      settings.consecutiveLocalOriginFailures !== undefined &&
      settings.splitExternalLocalOriginErrors !== true
    )
      f.check.warn(
        f.at('consecutiveLocalOriginFailures'),
        'has no effect unless splitExternalLocalOriginErrors is true (Envoy semantics)',
      );
    return settings;
  },
  { unsupported: { outlierDetectionHttpErrorCodes: 'use consecutive5xxErrors or consecutiveGatewayErrors' } },
);

/** `retryBudget`: Envoy's defaults (20%, at least 3) fill what is not set. */
const retryBudget: Reader<RetryBudgetSettings> = object(
  (f) => ({
    percent: f.optional('percent', percent) ?? 20,
    minRetryConcurrency: f.optional('minRetryConcurrency', integer(0, 2 ** 31 - 1)) ?? 3,
  }),
  {
    unsupported: {
      budgetInterval: 'the budget counts requests in flight (Envoy retry_budget), not over an interval',
    },
  },
);

const tls: Reader<ClientTlsSettings> = object(
  (f) => {
    const settings = defined<ClientTlsSettings>({
      mode: f.optional('mode', oneOf(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'])) ?? 'DISABLE',
      clientCertificate: f.optional('clientCertificate', nonEmptyString),
      privateKey: f.optional('privateKey', nonEmptyString),
      caCertificates: f.optional('caCertificates', nonEmptyString),
      sni: f.optional('sni', nonEmptyString),
      subjectAltNames: f.optional('subjectAltNames', stringList),
    });
    if (settings.mode === 'MUTUAL') {
      if (settings.clientCertificate === undefined)
        f.check.error(f.at('clientCertificate'), 'MUTUAL TLS needs clientCertificate', 'missing');
      if (settings.privateKey === undefined)
        f.check.error(f.at('privateKey'), 'MUTUAL TLS needs privateKey', 'missing');
    }
    return settings;
  },
  {
    unsupported: {
      credentialName: 'give clientCertificate, privateKey and caCertificates as file paths',
      insecureSkipVerify: 'weft always verifies upstream certificates when caCertificates is set',
      caCrl: 'certificate revocation lists are not implemented',
    },
  },
);

function policyFields(f: Fields): Omit<TrafficPolicy, 'portLevelSettings'> {
  return defined<Omit<TrafficPolicy, 'portLevelSettings'>>({
    loadBalancer: f.optional('loadBalancer', loadBalancer),
    connectionPool: f.optional('connectionPool', connectionPool),
    outlierDetection: f.optional('outlierDetection', outlierDetection),
    retryBudget: f.optional('retryBudget', retryBudget),
    tls: f.optional('tls', tls),
  });
}

const UNSUPPORTED_POLICY = {
  tunnel: 'tunnelling (HTTP CONNECT upstream) is not implemented',
  proxyProtocol: 'PROXY protocol upstream is not implemented',
};

const portLevelSetting = object(
  (f) => ({ ...policyFields(f), port: f.required('port', portSelector) ?? 0 }),
  { unsupported: UNSUPPORTED_POLICY },
);

/** A DestinationRule (or subset) `trafficPolicy`. */
export const trafficPolicy: Reader<TrafficPolicy> = object(
  (f) => ({
    ...policyFields(f),
    portLevelSettings:
      f.optional(
        'portLevelSettings',
        uniqueList(portLevelSetting, 'port', (s) => s.port),
      ) ?? [],
  }),
  { unsupported: UNSUPPORTED_POLICY },
);
