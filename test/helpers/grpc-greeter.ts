// Test helper: a real grpc-js Greeter server (test/fixtures/greeter.proto) that answers with its own name.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const GREETER_PROTO = fileURLToPath(new URL('../fixtures/greeter.proto', import.meta.url));

interface GreeterPackage {
  helloworld: { Greeter: grpc.ServiceClientConstructor };
}

/** The loaded `helloworld` package (service constructor for servers and clients). */
export function greeterPackage(grpcModule: typeof grpc = grpc): GreeterPackage {
  const definition = protoLoader.loadSync(GREETER_PROTO, { keepCase: true });
  return grpcModule.loadPackageDefinition(definition) as unknown as GreeterPackage;
}

export interface GreeterServer {
  port: number;
  close(): Promise<void>;
}

/** How a Greeter misbehaves, for resilience tests. */
export interface GreeterBehaviour {
  /** Wait this long before answering. */
  delayMs?: number;
  /** Fail a call's first attempt with this status; answer retries (gRPC's `grpc-previous-rpc-attempts`). */
  failFirstAttempt?: grpc.status;
}

/** Starts a Greeter on 127.0.0.1 (port 0) that replies `{ message: name }`, or fails every call with `fail`. */
export async function startGreeter(
  name: string,
  fail?: grpc.status,
  behaviour: GreeterBehaviour = {},
): Promise<GreeterServer> {
  const server = new grpc.Server();
  server.addService(greeterPackage().helloworld.Greeter.service, {
    SayHello: (
      call: grpc.ServerUnaryCall<{ name: string }, { message: string }>,
      callback: grpc.sendUnaryData<{ message: string }>,
    ) => {
      const answer = () => {
        const retried = call.metadata.get('grpc-previous-rpc-attempts').length > 0;
        if (fail !== undefined) callback({ code: fail, details: name });
        else if (behaviour.failFirstAttempt !== undefined && !retried)
          callback({ code: behaviour.failFirstAttempt, details: `${name}: first attempt` });
        else callback(null, { message: name });
      };
      if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
      else answer();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    // Calls still open after 5 s (a client that never ends its stream) are cut, not waited for.
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
