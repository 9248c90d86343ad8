// Test helper run as a child process: a proxyless @grpc/grpc-js-xds Greeter client driven over stdin/stdout.
//
// The parent sets GRPC_XDS_BOOTSTRAP_CONFIG and passes the target as argv[2]. Each stdin line is a
// JSON batch `{ "calls": N, "headers": { ... } }`; the answer is one stdout line of JSON counting
// replies by server name (`{ "v1": 800, "v2": 200 }`) and failures by status (`"error:14": 3`).
// The channel takes its TLS from xDS (gRFC A29: mTLS when the cluster says so, else plaintext);
// argv[3] `insecure` makes it a plaintext-only client.
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { greeterPackage } from './grpc-greeter.ts';

const xds = (await import('@grpc/grpc-js-xds')) as {
  register(): void;
  XdsChannelCredentials: new (fallback: grpc.ChannelCredentials) => grpc.ChannelCredentials;
};
xds.register();

const target = process.argv[2];
const { Greeter } = greeterPackage(grpc).helloworld;
const insecure = grpc.credentials.createInsecure();
const client = new Greeter(
  target,
  process.argv[3] === 'insecure' ? insecure : new xds.XdsChannelCredentials(insecure),
);

interface Batch {
  calls: number;
  headers?: Record<string, string>;
}

function call(headers: Record<string, string>): Promise<string> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return new Promise((resolve) => {
    const sayHello = client.SayHello as unknown as (
      req: { name: string },
      md: grpc.Metadata,
      options: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, reply?: { message: string }) => void,
    ) => void;
    sayHello.call(client, { name: 'test' }, metadata, { deadline: Date.now() + 10_000 }, (err, reply) =>
      resolve(err ? `error:${err.code}` : (reply?.message ?? 'empty')),
    );
  });
}

async function run(batch: Batch): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < batch.calls) {
      next++;
      const outcome = await call(batch.headers ?? {});
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return counts;
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const counts = await run(JSON.parse(line) as Batch);
  process.stdout.write(`${JSON.stringify(counts)}\n`);
}
client.close();
process.exit(0);
