// The gRPC backend of the benchmarks (a child process): grpc-js serving bench/lib/echo.proto on 127.0.0.1.
// Usage: node bench/lib/grpc-echo-server.ts PORT — prints "grpc-echo ready PORT".
import * as grpc from '@grpc/grpc-js';
import { type Counts, echoPackage, type Payload } from './echo.ts';

const port = Number(process.argv[2]);
if (!(port > 0)) {
  process.stderr.write('usage: node bench/lib/grpc-echo-server.ts PORT\n');
  process.exit(1);
}

const counts: Counts = { unary: 0, stream_messages: 0 };
const server = new grpc.Server();
server.addService(echoPackage().weftbench.Echo.service, {
  Unary: (call: grpc.ServerUnaryCall<Payload, Payload>, callback: grpc.sendUnaryData<Payload>) => {
    counts.unary++;
    callback(null, call.request);
  },
  Stream: (call: grpc.ServerDuplexStream<Payload, Payload>) => {
    call.on('data', (message: Payload) => {
      counts.stream_messages++;
      call.write(message);
    });
    call.on('end', () => call.end());
    call.on('error', () => {});
  },
  Served: (_call: grpc.ServerUnaryCall<object, Counts>, callback: grpc.sendUnaryData<Counts>) =>
    callback(null, counts),
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    process.stderr.write(`cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`grpc-echo ready ${port}\n`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
