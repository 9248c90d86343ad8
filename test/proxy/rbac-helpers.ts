// Test helpers for the RBAC and jwt_authn filters: configs through the real protos, and a recording FilterStream.

import type { Msg } from '../../src/proxy/common/fields.ts';
import type { ResponseFlag } from '../../src/proxy/common/response-flags.ts';
import type {
  DownstreamConnection,
  FilterStatus,
  FilterStream,
  HttpFilterFactory,
  StreamInfo,
} from '../../src/proxy/http/filters/filter.ts';
import { RequestHead } from '../../src/proxy/http/request-head.ts';
import { camelize } from '../../src/proxy/xds-client/camelize.ts';
import { decodeResource, encodeResource } from '../../src/xds/protos.ts';

/**
 * A filter config as the proxy receives it: the snake_case object is encoded with the real Envoy
 * proto (so a misspelt field or wrong type fails here, as it would on the wire), decoded and
 * camel-cased exactly as the ADS client does.
 */
export function viaWire(typeUrl: string, config: object): Msg {
  return camelize(decodeResource(typeUrl, encodeResource(typeUrl, config))) as Msg;
}

/** What a request looks like to a filter. */
export interface RequestSpec {
  method?: string;
  path?: string;
  authority?: string;
  headers?: Record<string, string>;
  connection?: Partial<DownstreamConnection>;
  /** Leave `streamInfo` out entirely (a connection manager that does not fill it). */
  noStreamInfo?: boolean;
  /** Dynamic metadata present before the filter runs (e.g. from jwt_authn). */
  metadata?: Map<string, Record<string, unknown>>;
}

/** A FilterStream that records what the filter did. */
export class RecordingStream implements FilterStream {
  readonly head = new RequestHead();
  readonly streamInfo: StreamInfo | undefined;
  reply: { status: number; body: string; flag: ResponseFlag | undefined; headers: string[] } | undefined;
  continued = 0;
  responseHeaders: string[] = [];

  constructor(spec: RequestSpec = {}) {
    this.head.method = spec.method ?? 'GET';
    this.head.path = spec.path ?? '/';
    this.head.authority = spec.authority ?? 'httpbin.foo:8000';
    this.head.remoteAddress = spec.connection?.sourceIp ?? '10.0.0.9';
    for (const [name, value] of Object.entries(spec.headers ?? {})) this.head.add(name, value);
    this.streamInfo = spec.noStreamInfo
      ? undefined
      : {
          connection: { sourceIp: '10.0.0.9', destinationPort: 15006, ...spec.connection },
          dynamicMetadata: spec.metadata ?? new Map(),
        };
  }

  sendLocalReply(status: number, body: string, flag: ResponseFlag | undefined, headers?: string[]): void {
    this.reply = { status, body, flag, headers: headers ?? [] };
  }

  continueDecoding(): void {
    this.continued++;
  }

  addResponseHeader(name: string, value: string): void {
    this.responseHeaders.push(name, value);
  }
}

/** Runs the chain of filters built from `factories[i].parse(config[i])` on one stream, as the manager does. */
export function runChain(
  filters: { factory: HttpFilterFactory; typedConfig: Msg }[],
  stream: RecordingStream,
): FilterStatus {
  for (const [i, { factory, typedConfig }] of filters.entries()) {
    const config = factory.parse(`filter-${i}`, typedConfig, `http_filters[${i}].typed_config`);
    if (config === undefined) continue;
    const status = config.createFilter().decodeHeaders(stream);
    if (status === 'StopIteration' || stream.reply !== undefined) return 'StopIteration';
  }
  return 'Continue';
}
