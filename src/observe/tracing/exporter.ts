// Sends spans to an OTLP/HTTP collector in batches from a bounded queue; a slow or dead collector drops spans (counted), never a request.
import { http } from '../../proxy/common/node-http.ts';
import { encodeTraceRequest } from './otlp.ts';
import type { Span } from './span.ts';

/** Spans held at most while the collector is slow; more are dropped. */
export const MAX_QUEUED_SPANS = 2048;
/** Spans per request to the collector. */
const BATCH = 512;
/** Longest a span waits before its batch is sent (ms). */
const FLUSH_MS = 1000;
/** A collector request that takes longer is abandoned (its spans are dropped). */
const TIMEOUT_MS = 5000;

export interface ExporterConfig {
  host: string;
  port: number;
  path: string;
  /** `service.name` and other resource attributes. */
  resource: [string, string][];
}

export class OtlpExporter {
  readonly config: ExporterConfig;
  exported = 0;
  dropped = 0;
  private queue: Span[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(config: ExporterConfig) {
    this.config = config;
  }

  /** Queues a finished span; never blocks. */
  add(span: Span): void {
    if (this.queue.length >= MAX_QUEUED_SPANS) {
      this.dropped++;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= BATCH) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Sends what is queued (one request at a time). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending || this.queue.length === 0) return;
    const batch = this.queue.splice(0, BATCH);
    this.sending = true;
    const body = encodeTraceRequest(this.config.resource, batch);
    const done = (ok: boolean) => {
      if (!this.sending) return;
      this.sending = false;
      if (ok) this.exported += batch.length;
      else this.dropped += batch.length;
      if (this.queue.length > 0) this.timer ??= setTimeout(() => this.flush(), ok ? 0 : FLUSH_MS).unref();
    };
    const req = http.request(
      {
        host: this.config.host,
        port: this.config.port,
        path: this.config.path,
        method: 'POST',
        agent: this.agent,
        timeout: TIMEOUT_MS,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => done((res.statusCode ?? 500) < 300));
        res.on('error', () => done(false));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
    req.end(body);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.agent.destroy();
  }
}
