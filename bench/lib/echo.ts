// The benchmark's gRPC Echo service (bench/lib/echo.proto) for grpc-js servers and clients.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ECHO_PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));

/** Full method path of the unary call (what h2load posts to). */
export const UNARY_PATH = '/weftbench.Echo/Unary';

export interface Payload {
  data: Buffer;
}

export interface Counts {
  unary: number;
  stream_messages: number;
}

/** The generated client, with the methods typed. */
export interface EchoClient extends grpc.Client {
  Unary(
    req: Payload,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: Payload) => void,
  ): void;
  Stream(): grpc.ClientDuplexStream<Payload, Payload>;
  Served(
    req: object,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: Counts) => void,
  ): void;
}

interface EchoPackage {
  weftbench: { Echo: grpc.ServiceClientConstructor };
}

export function echoPackage(): EchoPackage {
  const definition = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, longs: Number, defaults: true });
  return grpc.loadPackageDefinition(definition) as unknown as EchoPackage;
}

/** A client for 127.0.0.1:port; `authority` sets :authority (a sidecar routes by it). */
export function echoClient(port: number, authority?: string): EchoClient {
  const Echo = echoPackage().weftbench.Echo;
  const options: grpc.ChannelOptions = authority ? { 'grpc.default_authority': authority } : {};
  return new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options) as unknown as EchoClient;
}

/**
 * The gRPC frame h2load posts for one Unary call: a 5-byte prefix (not compressed, length)
 * and a Payload message whose `data` (field 1, bytes) holds `size` bytes (size < 16384).
 */
export function unaryRequestFrame(size: number): Buffer {
  const varint = size < 128 ? [size] : [(size & 0x7f) | 0x80, size >> 7];
  const message = Buffer.concat([Buffer.from([0x0a, ...varint]), Buffer.alloc(size, 0x61)]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** One Unary call with a deadline; 'ok' when the payload comes back intact. */
export function probeUnary(
  port: number,
  authority: string | undefined,
  size: number,
): Promise<'ok' | string> {
  const client = echoClient(port, authority);
  const data = Buffer.alloc(size, 0x61);
  return new Promise<'ok' | string>((resolve) => {
    client.Unary({ data }, { deadline: Date.now() + 5000 }, (err, res) => {
      if (err) resolve(`gRPC ${grpc.status[err.code] ?? err.code}: ${err.details}`);
      else if (!res || !data.equals(res.data)) resolve('the echoed payload differs');
      else resolve('ok');
    });
  }).finally(() => client.close());
}

/** What the server on `port` has answered so far. */
export function servedCounts(port: number): Promise<Counts> {
  const client = echoClient(port);
  return new Promise<Counts>((resolve, reject) => {
    client.Served({}, { deadline: Date.now() + 5000 }, (err, res) =>
      err || !res ? reject(err) : resolve(res),
    );
  }).finally(() => client.close());
}
