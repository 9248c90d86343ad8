// Test helper run as a child process: a proxyless (xDS-enabled, gRFC A36) @grpc/grpc-js-xds Greeter server replying `xds-server`.
//
// The parent sets GRPC_XDS_BOOTSTRAP_CONFIG (with server_listener_resource_name_template) and passes
// `127.0.0.1:PORT` as argv[2]; the child prints `serving PORT` once the control plane's listener
// for that address is accepted, and serves until killed. Its credentials come from xDS (mTLS when
// the listener carries a DownstreamTlsContext, gRFC A29), plaintext otherwise.
import * as grpc from '@grpc/grpc-js';
import { greeterPackage } from './grpc-greeter.ts';

const xds = (await import('@grpc/grpc-js-xds')) as unknown as {
  register(): void;
  XdsServer: new () => grpc.Server;
  XdsServerCredentials: new (fallback: grpc.ServerCredentials) => grpc.ServerCredentials;
};
// Registers the HTTP filters (router, fault, RBAC) the server's listener names.
xds.register();
const { XdsServer, XdsServerCredentials } = xds;
const server = new XdsServer();
server.addService(greeterPackage(grpc).helloworld.Greeter.service, {
  SayHello: (
    _call: grpc.ServerUnaryCall<{ name: string }, { message: string }>,
    callback: grpc.sendUnaryData<{ message: string }>,
  ) => callback(null, { message: 'xds-server' }),
});
const credentials = new XdsServerCredentials(grpc.ServerCredentials.createInsecure());
server.bindAsync(process.argv[2], credentials, (err, port) => {
  if (err) {
    process.stderr.write(`bind failed: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`serving ${port}\n`);
});
