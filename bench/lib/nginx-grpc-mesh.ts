// A mesh path of two nginx (a reference): nginx client side → grpc_pass over mTLS with client certificates → nginx server side → gRPC backend.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificates, makeClientCertificate } from '../../test/helpers/openssl-certs.ts';
import type { BenchContext } from './context.ts';
import { mainBlock, runNginx } from './nginx.ts';
import type { ProxyProcess } from './paths.ts';
import { freePort } from './ports.ts';
import type { Child } from './processes.ts';

/** The name the server side's certificate carries and the client side verifies. */
const SERVER_NAME = 'server.mesh';

/** http-level settings of both: a bidi stream's request body has no end, so no size limit and long timeouts. */
const GRPC_HTTP = `  client_max_body_size 0;
  client_body_timeout 300s;
  grpc_read_timeout 300s;
  grpc_send_timeout 300s;
`;

const KEEPALIVE = 'keepalive 128; keepalive_requests 100000000; keepalive_timeout 300s;';

function start(ctx: BenchContext, name: string, port: number, server: string): Promise<Child> {
  return runNginx(ctx, name, port, mainBlock(join(ctx.tmp, name), GRPC_HTTP + server));
}

/**
 * Two nginx (one worker each, as bench/lib/nginx.ts) as the two sidecars of a gRPC mesh path: h2c in
 * on the returned port, `grpc_pass` over TLS 1.3 to the server side, which requires and verifies a
 * client certificate (the client side verifies the server's name), h2c to the backend. nginx gives
 * every stream its own upstream connection (kept alive), where weft and HAProxy multiplex.
 */
export async function startNginxGrpcMesh(
  ctx: BenchContext,
  backendPort: number,
): Promise<{ port: number; proxies: ProxyProcess[] }> {
  const dir = join(ctx.tmp, 'nginx-grpc-mesh');
  mkdirSync(dir, { recursive: true });
  const server = makeCertificates(dir, 'mesh', [SERVER_NAME]);
  const client = makeClientCertificate(dir, 'mesh', 'client.mesh');
  const [inPort, hopPort] = [await freePort(), await freePort()];
  const serverSide = await start(
    ctx,
    'nginx-grpc-server',
    hopPort,
    `  upstream app { server 127.0.0.1:${backendPort}; ${KEEPALIVE} }
  server {
    listen 127.0.0.1:${hopPort} ssl http2 backlog=4096;
    ssl_certificate ${server.cert};
    ssl_certificate_key ${server.key};
    ssl_client_certificate ${server.ca};
    ssl_verify_client on;
    ssl_protocols TLSv1.3;
    location / { grpc_pass grpc://app; }
  }`,
  );
  let clientSide: Child;
  try {
    clientSide = await start(
      ctx,
      'nginx-grpc-client',
      inPort,
      `  upstream hop { server 127.0.0.1:${hopPort}; ${KEEPALIVE} }
  server {
    listen 127.0.0.1:${inPort} http2 backlog=4096;
    location / {
      grpc_pass grpcs://hop;
      grpc_ssl_certificate ${client.cert};
      grpc_ssl_certificate_key ${client.key};
      grpc_ssl_trusted_certificate ${server.ca};
      grpc_ssl_verify on;
      grpc_ssl_name ${SERVER_NAME};
      grpc_ssl_server_name on;
      grpc_ssl_protocols TLSv1.3;
      grpc_ssl_session_reuse on;
    }
  }`,
    );
  } catch (err) {
    await serverSide.stop();
    throw err;
  }
  return {
    port: inPort,
    proxies: [
      { role: 'nginx client side (mTLS mesh reference)', child: clientSide },
      { role: 'nginx server side (mTLS mesh reference)', child: serverSide },
    ],
  };
}
