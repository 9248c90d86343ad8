// A mesh path of two C proxies (a reference): HAProxy client side → mTLS with client certificates → HAProxy server side → backend.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { makeCertificates, makeClientCertificate } from '../../test/helpers/openssl-certs.ts';
import type { BenchContext } from './context.ts';
import { HTTP_GLOBAL_AND_DEFAULTS } from './haproxy.ts';
import { probeHttp } from './http-probe.ts';
import type { ProxyProcess } from './paths.ts';
import { freePort } from './ports.ts';
import { type Child, startChild } from './processes.ts';

/** The name the server side's certificate carries and the client side verifies. */
const SERVER_NAME = 'server.mesh';

/** A CA (openssl), the server side's certificate and the client side's, each as HAProxy's one file of certificate + key. */
function meshCertificates(dir: string): { ca: string; server: string; client: string } {
  mkdirSync(dir, { recursive: true });
  const server = makeCertificates(dir, 'mesh', [SERVER_NAME]);
  const client = makeClientCertificate(dir, 'mesh', 'client.mesh');
  const bundle = (name: string, files: { cert: string; key: string }) => {
    const file = join(dir, `${name}-full.pem`);
    writeFileSync(file, `${readFileSync(files.cert)}${readFileSync(files.key)}`);
    return file;
  };
  return { ca: server.ca, server: bundle('server', server), client: bundle('client', client) };
}

/** One HAProxy process (one thread, HTTP mode, keep-alive both sides) from a frontend bind line and a backend server line. */
function startSide(ctx: BenchContext, dir: string, side: string, port: number, bind: string, server: string) {
  const file = join(dir, `haproxy-${side}.cfg`);
  writeFileSync(
    file,
    `# written by bench/lib/haproxy-mesh.ts (${side} side)
${HTTP_GLOBAL_AND_DEFAULTS}
frontend in
  ${bind}
  default_backend out

backend out
  ${server}
`,
  );
  return startChild({
    name: `haproxy ${side} side`,
    command: ctx.tools.haproxy!,
    args: ['-f', file, '-db'],
    readyPort: port,
    stopSignal: 'SIGTERM',
  });
}

/**
 * Two HAProxy processes as the two sidecars of a mesh path: plain HTTP in on the returned port,
 * mTLS between them (the server side requires and verifies a client certificate, the client side
 * verifies the server's name), plain HTTP to the backend. Client side first in `proxies`. Throws
 * when the hop answers a client without TLS or without a certificate (it would not be mTLS). With
 * `http2`, every connection speaks HTTP/2 (h2c in and out, ALPN h2 on the hop; streams multiplexed),
 * the gRPC benchmark's reference.
 */
export async function startHaproxyMesh(
  ctx: BenchContext,
  backendPort: number,
  http2 = false,
): Promise<{ port: number; hopPort: number; proxies: ProxyProcess[] }> {
  const dir = join(ctx.tmp, 'haproxy-mesh');
  const certs = meshCertificates(dir);
  const [inPort, hopPort] = [await freePort(), await freePort()];
  const [h2c, alpn] = http2 ? [' proto h2', ' alpn h2'] : ['', ''];
  const server: Child = await startSide(
    ctx,
    dir,
    'server',
    hopPort,
    `bind 127.0.0.1:${hopPort} ssl crt ${certs.server} ca-file ${certs.ca} verify required${alpn}`,
    `server app 127.0.0.1:${backendPort}${h2c}`,
  );
  let client: Child;
  try {
    client = await startSide(
      ctx,
      dir,
      'client',
      inPort,
      `bind 127.0.0.1:${inPort}${h2c}`,
      `server peer 127.0.0.1:${hopPort} ssl crt ${certs.client} ca-file ${certs.ca} verify required verifyhost ${SERVER_NAME} sni str(${SERVER_NAME})${alpn}`,
    );
  } catch (err) {
    await server.stop();
    throw err;
  }
  const proxies = [
    { role: 'HAProxy client side (mTLS mesh reference)', child: client },
    { role: 'HAProxy server side (mTLS mesh reference)', child: server },
  ];
  const refusal = await hopRefusal(hopPort, certs.ca);
  if (refusal !== undefined) {
    await client.stop();
    await server.stop();
    throw new Error(`the HAProxy mesh pair's server side does not enforce mTLS: ${refusal}`);
  }
  return { port: inPort, hopPort, proxies };
}

/** A GET on the hop without TLS, and over TLS without a client certificate: both must go unanswered. */
async function hopRefusal(hopPort: number, ca: string): Promise<string | undefined> {
  if ((await probeHttp(hopPort, undefined, 0)).startsWith('HTTP ')) return 'it answers plaintext HTTP';
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const socket = tls.connect({
      host: '127.0.0.1',
      port: hopPort,
      servername: SERVER_NAME,
      ca: readFileSync(ca),
    });
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('secureConnect', () => socket.write(`GET / HTTP/1.1\r\nhost: ${SERVER_NAME}\r\n\r\n`));
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
  return answer.startsWith('HTTP/') ? 'it answers a TLS client without a certificate' : undefined;
}
