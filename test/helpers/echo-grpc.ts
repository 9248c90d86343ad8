// Test helper: a gRPC echo service (JSON messages) with unary, server-, client- and bidi-streaming calls.
import * as grpc from '@grpc/grpc-js';

/** Messages are JSON objects on the wire (the proxy never looks inside). */
export type Message = Record<string, unknown>;

const serialize = (m: Message) => Buffer.from(JSON.stringify(m));
const deserialize = (b: Buffer) => JSON.parse(b.toString('utf8')) as Message;

function method(path: string, requestStream: boolean, responseStream: boolean) {
  return {
    path: `/weft.test.Echo/${path}`,
    requestStream,
    responseStream,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  };
}

/** The service definition, shared by server and client. */
export const echoService = {
  Unary: method('Unary', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
} satisfies grpc.ServiceDefinition;

/** Error details the server attaches to a failed call (`grpc-status-details-bin`). */
export const ERROR_DETAILS = Buffer.from([0x08, 0x05, 0x12, 0x04, 0x6e, 0x6f, 0x70, 0x65]);

/**
 * Starts the echo server. Unary with `{fail: true}` fails with NOT_FOUND, a message, a custom
 * trailer and binary error details; every successful call sends trailer `x-served-by: name`.
 */
export async function startGrpcEcho(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  const trailer = () => {
    const md = new grpc.Metadata();
    md.set('x-served-by', name);
    return md;
  };
  server.addService(echoService, {
    Unary(call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) {
      if (call.request.fail) {
        const md = new grpc.Metadata();
        md.set('x-served-by', name);
        md.set('grpc-status-details-bin', ERROR_DETAILS);
        callback({
          code: grpc.status.NOT_FOUND,
          details: `no such thing: ${String(call.request.id)}`,
          metadata: md,
        });
        return;
      }
      const deadline = call.getDeadline();
      callback(
        null,
        { name, echo: call.request, authority: call.getPath(), hasDeadline: deadline !== Infinity },
        trailer(),
      );
    },
    ServerStream(call: grpc.ServerWritableStream<Message, Message>) {
      const n = Number(call.request.count ?? 3);
      for (let i = 0; i < n; i++) call.write({ name, i });
      call.end(trailer());
    },
    ClientStream(call: grpc.ServerReadableStream<Message, Message>, callback: grpc.sendUnaryData<Message>) {
      let count = 0;
      call.on('data', () => count++);
      call.on('end', () => callback(null, { name, count }, trailer()));
    },
    Bidi(call: grpc.ServerDuplexStream<Message, Message>) {
      call.on('data', (m: Message) => call.write({ name, echo: m }));
      call.on('end', () => call.end(trailer()));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/** A client for the echo service through `address`, sending `authority` as :authority. */
export function grpcEchoClient(
  address: string,
  authority: string,
): grpc.Client & Record<string, (...args: never[]) => unknown> {
  const Client = grpc.makeGenericClientConstructor(echoService, 'Echo');
  return new Client(address, grpc.credentials.createInsecure(), {
    'grpc.default_authority': authority,
  }) as unknown as grpc.Client & Record<string, (...args: never[]) => unknown>;
}
