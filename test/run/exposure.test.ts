// listeningOn: which addresses listen on a port, read from procfs text (fixtures) and from the real /proc.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listeningOn } from '../../src/run/exposure.ts';

const HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

test('loopback and wildcard listeners in procfs text (IPv4 and IPv6), LISTEN state only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-exposure-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tcp = join(dir, 'tcp');
  const tcp6 = join(dir, 'tcp6');
  // 0x1F90 = 8080: 127.0.0.1 listening, 10.0.0.1 connected (state 01, ignored); 0x1F91 = 8081: 0.0.0.0.
  await writeFile(
    tcp,
    `${HEADER}   0: 0100007F:1F90 00000000:0000 0A 0 0 0 0 0 0 1\n   1: 0100000A:1F90 0200000A:D431 01 0 0 0 0 0 0 2\n   2: 00000000:1F91 00000000:0000 0A 0 0 0 0 0 0 3\n`,
  );
  // 8082 on ::1, 8083 on ::.
  await writeFile(
    tcp6,
    `${HEADER}   0: 00000000000000000000000001000000:1F92 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 4\n   1: 00000000000000000000000000000000:1F93 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 5\n`,
  );
  assert.deepEqual(await listeningOn(8080, [tcp, tcp6]), { addresses: ['127.0.0.1'], exposed: false });
  assert.deepEqual(await listeningOn(8081, [tcp, tcp6]), { addresses: ['0.0.0.0'], exposed: true });
  assert.deepEqual(await listeningOn(8082, [tcp, tcp6]), { addresses: ['::1'], exposed: false });
  assert.deepEqual(await listeningOn(8083, [tcp, tcp6]), { addresses: ['::'], exposed: true });
  assert.deepEqual(await listeningOn(9999, [tcp, tcp6]), { addresses: [], exposed: false });
  assert.equal(await listeningOn(8080, [join(dir, 'missing')]), undefined);
});

test('a real server on 127.0.0.1 is loopback only; one on every interface is exposed', async (t) => {
  const listen = (host?: string) =>
    new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen({ port: 0, host }, () => resolve(s));
    });
  const local = await listen('127.0.0.1');
  const all = await listen();
  t.after(() => {
    local.close();
    all.close();
  });
  const localPort = (local.address() as net.AddressInfo).port;
  const allPort = (all.address() as net.AddressInfo).port;
  assert.deepEqual(await listeningOn(localPort), { addresses: ['127.0.0.1'], exposed: false });
  assert.equal((await listeningOn(allPort))?.exposed, true);
});
