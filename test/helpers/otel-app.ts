// Test helper run as a child process: an HTTP app instrumented with the OpenTelemetry SDK that may call another service through its sidecar.
// argv: NAME COLLECTOR_URL [OUTBOUND_PORT HOST_HEADER]; prints "listening PORT" once it serves.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

const [name, collector, outbound, host] = process.argv.slice(2);
const provider = new NodeTracerProvider({
  spanProcessors: [
    new BatchSpanProcessor(new OTLPTraceExporter({ url: collector }), { scheduledDelayMillis: 100 }),
  ],
});
provider.register();
const tracer = trace.getTracer(name);

/** GET / on the next service through the sidecar's outbound port, with the client span's context. */
function callNext(): Promise<string> {
  const span = tracer.startSpan(`${name} calls ${host}`, { kind: SpanKind.CLIENT });
  const headers: Record<string, string> = { host };
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port: Number(outbound), path: '/', headers, agent: false },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => {
          span.end();
          resolve(body);
        });
      },
    );
    req.on('error', (err) => {
      span.end();
      reject(err);
    });
  });
}

const server = http.createServer((req, res) => {
  const parent = propagation.extract(context.active(), req.headers);
  const span = tracer.startSpan(`${name} handles ${req.url}`, { kind: SpanKind.SERVER }, parent);
  context.with(trace.setSpan(parent, span), async () => {
    let body = `${name}`;
    if (outbound) body += ` -> ${await callNext().catch((e: Error) => `error ${e.message}`)}`;
    res.end(body);
    span.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', async () => {
  await provider.shutdown().catch(() => {});
  process.exit(0);
});
