// One access log line per finished request: the stream's facts as an AccessLogEntry, handed to each configured file.
import type { AccessLogEntry } from '../../../observe/access-log/entry.ts';
import type { ProxyTelemetry } from '../../../observe/proxy-telemetry.ts';
import type { AccessLogConfig } from '../access-log-config.ts';
import type { HttpStream } from '../stream/http-stream.ts';
import { type RequestState, wallTime } from './request-state.ts';

/** Pseudo-headers Envoy's %REQ()% reads from the head's fields. */
function requestHeader(stream: HttpStream, name: string): string | undefined {
  const head = stream.head;
  switch (name) {
    case ':method':
      return head.method;
    case ':path':
      return head.path;
    case ':authority':
    case 'host':
      return head.authority;
    case ':scheme':
      return head.scheme;
    default:
      return head.get(name);
  }
}

function header(list: string[] | null, name: string): string | undefined {
  if (list === null) return undefined;
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1];
  return undefined;
}

export function writeAccessLogs(
  stream: HttpStream,
  logs: readonly AccessLogConfig[],
  st: RequestState,
  code: number,
  flags: string,
  ms: number,
  telemetry: ProxyTelemetry,
): void {
  const facts = stream.codec.connectionFacts();
  const host = stream.router.upstreamHost;
  const entry: AccessLogEntry = {
    startTime: wallTime(st.start),
    protocol: stream.head.protocol,
    requestHeader: (name) => requestHeader(stream, name),
    responseHeader: (name) => header(st.responseHeaders, name),
    responseCode: code,
    responseFlags: flags,
    responseCodeDetails: flags === '-' ? (code === 0 ? '' : 'via_upstream') : '',
    bytesReceived: st.requestBytes,
    bytesSent: st.responseBytes,
    durationMs: ms,
    upstreamHost: host?.key ?? '',
    upstreamCluster: stream.router.cluster?.name ?? '',
    upstreamLocalAddress: '',
    downstreamLocalAddress: facts.destinationIp ? `${facts.destinationIp}:${facts.destinationPort}` : '',
    downstreamRemoteAddress: stream.head.remoteAddress,
    requestedServerName: facts.sni ?? '',
    routeName: stream.router.decision.route?.name ?? '',
    downstreamPeerUriSan: facts.peerPrincipal ?? '',
  };
  for (const log of logs) telemetry.accessLogWriter(log.path).write(log.format(entry));
}
