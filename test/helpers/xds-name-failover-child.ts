// Test child, run in a network namespace whose /etc/hosts gives xds.weft.test two addresses: the ADS client given that one name must reach the second replica when the first fails every stream.
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { AdsClient } from '../../src/proxy/xds-client/ads-client.ts';
import { adsService } from '../../src/xds/discovery.ts';

const PORT = 15010;
/** How long the client may take to reach the second replica on a busy machine. */
const LIMIT_MS = 20_000;

function serve(address: string, onStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => void) {
  const server = new grpc.Server();
  server.addService(adsService, { StreamAggregatedResources: onStream });
  return new Promise<grpc.Server>((resolve, reject) =>
    server.bindAsync(`${address}:${PORT}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(server),
    ),
  );
}

let failed = 0;
let reached = false;
// The first address accepts connections but fails every stream, as a replica that is shutting down does.
const first = await serve('127.0.0.1', (call) => {
  failed++;
  call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'replica draining' });
});
const second = await serve('127.0.0.2', (call) => {
  call.on('data', () => {
    reached = true;
  });
  call.on('error', () => {});
});
const client = new AdsClient(
  {
    address: `xds.weft.test:${PORT}`,
    node: { id: 'n', cluster: 'c' },
    initialBackoffMs: 20,
    maxBackoffMs: 100,
  },
  { apply: async () => {}, routeNames: () => [], endpointNames: () => [] },
  pino({ level: 'silent' }),
);
client.start();
const start = Date.now();
while (!reached && Date.now() - start < LIMIT_MS) await new Promise((r) => setTimeout(r, 50));
client.close();
first.forceShutdown();
second.forceShutdown();
process.stdout.write(
  `${JSON.stringify({ reached, failedOnFirst: failed, connects: client.counters.connects })}\n`,
);
