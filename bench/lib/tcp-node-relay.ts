// The Node.js floor of a TCP mesh hop (a child process): node:net + node:tls and pipe(), no weft code; one side of an mTLS relay pair.
// Usage: node bench/lib/tcp-node-relay.ts client|server LISTEN_PORT TARGET_PORT TLS13_SUITES CA CERT KEY (PEM files) — prints "relay ready PORT".
//   client: plaintext in on LISTEN_PORT, TLS 1.3 with CERT/KEY out to TARGET_PORT (server name "server.mesh").
//   server: TLS 1.3 in on LISTEN_PORT (CERT/KEY; a client certificate signed by CA required), plaintext out to TARGET_PORT.
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import * as tls from 'node:tls';

const [side, listenArg, targetArg, suites, caFile, certFile, keyFile] = process.argv.slice(2);
const listenPort = Number(listenArg);
const targetPort = Number(targetArg);
if (
  (side !== 'client' && side !== 'server') ||
  !(listenPort > 0) ||
  !(targetPort > 0) ||
  !suites ||
  !keyFile
) {
  process.stderr.write(
    'usage: node bench/lib/tcp-node-relay.ts client|server LISTEN_PORT TARGET_PORT TLS13_SUITES CA CERT KEY\n',
  );
  process.exit(1);
}

const [ca, cert, key] = [caFile, certFile, keyFile].map((file) => readFileSync(file));
/** The TLS 1.3 suites in the given order; Node's TLS 1.2 list after them (unused: TLS 1.3 only). */
const ciphers = `${suites}:${tls.DEFAULT_CIPHERS.split(':')
  .filter((c) => !c.startsWith('TLS_'))
  .join(':')}`;

/** Both directions through pipe(); either side's end or error ends the other. */
function relay(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a);
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', close);
  b.on('error', close);
  a.on('close', close);
  b.on('close', close);
}

const server =
  side === 'client'
    ? createServer({ noDelay: true }, (inbound) => {
        const out = tls.connect({
          host: '127.0.0.1',
          port: targetPort,
          servername: 'server.mesh',
          ca,
          cert,
          key,
          minVersion: 'TLSv1.3',
          ciphers,
        });
        out.setNoDelay(true);
        relay(inbound, out);
      })
    : tls.createServer(
        {
          ca,
          cert,
          key,
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.3',
          ciphers,
          honorCipherOrder: true,
          noDelay: true,
        },
        (inbound) => relay(inbound, connect({ host: '127.0.0.1', port: targetPort, noDelay: true })),
      );
server.listen({ host: '127.0.0.1', port: listenPort }, () =>
  process.stdout.write(`relay ready ${listenPort}\n`),
);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
