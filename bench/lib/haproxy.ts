// HAProxy as a reference HTTP proxy: one thread, keep-alive both sides, config in a temp dir, run in the foreground.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './context.ts';
import { type Child, startChild } from './processes.ts';

/** One thread, HTTP mode, keep-alive on both sides: the settings of every HAProxy reference. */
export const HTTP_GLOBAL_AND_DEFAULTS = `global
  nbthread 1
  # below the usual open-file limit (HAProxy needs two descriptors per connection)
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
`;

/** HAProxy on 127.0.0.1:port forwarding HTTP to 127.0.0.1:upstreamPort. */
export function startHaproxy(ctx: BenchContext, port: number, upstreamPort: number): Promise<Child> {
  const dir = join(ctx.tmp, 'haproxy');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    `# written by bench/lib/haproxy.ts
${HTTP_GLOBAL_AND_DEFAULTS}
frontend bench
  bind 127.0.0.1:${port}
  default_backend backend

backend backend
  server nginx 127.0.0.1:${upstreamPort}
`,
  );
  return startChild({
    name: 'haproxy',
    command: ctx.tools.haproxy!,
    args: ['-f', file, '-db'],
    readyPort: port,
    stopSignal: 'SIGTERM',
  });
}
