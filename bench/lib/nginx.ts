// nginx as the fixed-body backend and as the reference reverse proxy: config in a temp prefix, run in the foreground.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './context.ts';
import { type Child, startChild } from './processes.ts';

/** The body every HTTP/1.1 benchmark serves: exactly 1 KiB of printable text. */
export const BODY_1KIB = 'x'.repeat(1023) + '\n';

function prefixDir(ctx: BenchContext, name: string): string {
  const dir = join(ctx.tmp, name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  return dir;
}

/** Settings shared by both roles: one worker, no access log, keep-alive effectively unlimited. */
export function mainBlock(dir: string, server: string): string {
  return `# written by bench/lib/nginx.ts
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
${server}
}
`;
}

/** Writes `conf` as nginx.conf in the temp prefix of `name` and runs nginx in the foreground until `port` accepts. */
export async function runNginx(ctx: BenchContext, name: string, port: number, conf: string): Promise<Child> {
  const dir = prefixDir(ctx, name);
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return startChild({
    name,
    command: ctx.tools.nginx!,
    args: ['-p', dir, '-e', 'stderr', '-c', file, '-g', 'daemon off;'],
    readyPort: port,
    stopSignal: 'SIGTERM',
  });
}

/** nginx serving BODY_1KIB with 200 on every path of 127.0.0.1:port. */
export function startNginxBackend(ctx: BenchContext, port: number): Promise<Child> {
  const dir = join(ctx.tmp, 'nginx-backend');
  const server = `  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { default_type text/plain; return 200 "${BODY_1KIB.replace('\n', '\\n')}"; }
  }`;
  return runNginx(ctx, 'nginx-backend', port, mainBlock(dir, server));
}

/** nginx as a reverse proxy on 127.0.0.1:port to 127.0.0.1:upstreamPort, with upstream keep-alive. */
export function startNginxProxy(ctx: BenchContext, port: number, upstreamPort: number): Promise<Child> {
  const dir = join(ctx.tmp, 'nginx-proxy');
  const server = `  upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`;
  return runNginx(ctx, 'nginx-proxy', port, mainBlock(dir, server));
}
