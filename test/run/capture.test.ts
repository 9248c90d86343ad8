// Transparent capture's building blocks: the iptables rules (real ones, in a network namespace), their roll-back, and the original destination from conntrack.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CaptureUnavailableError } from '../../src/errors.ts';
import { conntrackAddress, findOriginal } from '../../src/proxy/listener/original-dst.ts';
import { type CaptureSpec, captureRules, installCapture } from '../../src/run/capture-rules.ts';
import { createHosts, type Hosts } from '../helpers/netns.ts';

const SPEC: CaptureSpec = {
  id: 't1',
  appGid: 1337,
  appPort: 8080,
  inboundPort: 15006,
  outboundPort: 15001,
  includePorts: [],
  excludePorts: [22],
  includeCidrs: [],
  excludeCidrs: ['10.9.0.0/16'],
};

test('the rules: app group only, loopback and exclusions first, inbound to the app port', () => {
  const { install, remove } = captureRules(SPEC);
  const text = install.map((c) => c.join(' '));
  assert.deepEqual(text, [
    '-t nat -N WEFT_OUT_t1',
    '-t nat -A WEFT_OUT_t1 -d 127.0.0.0/8 -j RETURN',
    '-t nat -A WEFT_OUT_t1 -d 10.9.0.0/16 -j RETURN',
    '-t nat -A WEFT_OUT_t1 -p tcp --dport 22 -j RETURN',
    '-t nat -A WEFT_OUT_t1 -p tcp -d 0.0.0.0/0 -j REDIRECT --to-ports 15001',
    '-t nat -N WEFT_IN_t1',
    '-t nat -A WEFT_IN_t1 -p tcp -j REDIRECT --to-ports 15006',
    '-t nat -A OUTPUT -p tcp -m owner --gid-owner 1337 -j WEFT_OUT_t1',
    '-t nat -A PREROUTING -p tcp --dport 8080 -j WEFT_IN_t1',
  ]);
  assert.equal(remove.length, 6);
  // IPv6 (ip6tables): its own loopback, only IPv6 CIDRs; the same chains and ports.
  const v6 = captureRules({ ...SPEC, excludeCidrs: ['10.9.0.0/16', 'fd00:9::/32'] }, 6).install;
  assert.deepEqual(
    v6.filter((c) => c[2] === '-A' && c[3] === 'WEFT_OUT_t1').map((c) => c.slice(4).join(' ')),
    [
      '-d ::1/128 -j RETURN',
      '-d fd00:9::/32 -j RETURN',
      '-p tcp --dport 22 -j RETURN',
      '-p tcp -d ::/0 -j REDIRECT --to-ports 15001',
    ],
  );
  // Only IPv4 ranges included: no IPv6 destination is redirected.
  const v4only = captureRules({ ...SPEC, includeCidrs: ['10.0.0.0/8'] }, 6).install;
  assert.equal(v4only.filter((c) => c.includes('WEFT_OUT_t1') && c.includes('REDIRECT')).length, 0);
  const only = captureRules({ ...SPEC, includePorts: [80, 443], includeCidrs: ['10.0.0.0/8'] }).install;
  assert.deepEqual(
    only.filter((c) => c.includes('REDIRECT') && c.includes('WEFT_OUT_t1')).map((c) => c.slice(4).join(' ')),
    [
      '-p tcp -d 10.0.0.0/8 --dport 80 -j REDIRECT --to-ports 15001',
      '-p tcp -d 10.0.0.0/8 --dport 443 -j REDIRECT --to-ports 15001',
    ],
  );
});

test('a failing rule rolls back every rule already added and says WEFT_CAPTURE_UNAVAILABLE', async () => {
  const installed = new Set<string>();
  let calls = 0;
  const run = async (args: string[]) => {
    const op = args[2];
    const key = args.filter((_, i) => i !== 2).join(' ');
    if (op === '-N' || op === '-A') {
      if (++calls === 4) throw new Error("can't initialize iptables table `nat': Permission denied");
      installed.add(key);
    } else installed.delete(key);
    if (op === '-X')
      for (const k of [...installed]) if (k.startsWith(`-t nat ${args[3]}`)) installed.delete(k);
  };
  await assert.rejects(installCapture(SPEC, { ipv4: run }), (err: unknown) => {
    assert.ok(err instanceof CaptureUnavailableError);
    assert.equal(err.code, 'WEFT_CAPTURE_UNAVAILABLE');
    assert.match(err.message, /Permission denied.*CAP_NET_ADMIN.*nothing was left installed/);
    return true;
  });
  assert.deepEqual([...installed], []);
});

test('IPv6 is all or nothing with IPv4: ip6tables without a nat table rolls back the IPv4 rules too', async () => {
  const installed = new Set<string>();
  const track = (family: string, failing: boolean) => async (args: string[]) => {
    const key = `${family} ${args.filter((_, i) => i !== 2).join(' ')}`;
    if (args[2] === '-N' || args[2] === '-A') {
      if (failing) throw new Error("can't initialize ip6tables table `nat': Table does not exist");
      installed.add(key);
    } else installed.delete(key);
    if (args[2] === '-X')
      for (const k of [...installed]) if (k.startsWith(`${family} -t nat ${args[3]}`)) installed.delete(k);
  };
  await assert.rejects(
    installCapture(SPEC, { ipv4: track('4', false), ipv6: track('6', true) }),
    /ip6tables -t nat -N WEFT_OUT_t1 failed: .*Table does not exist.*ip6tables \(with its nat table/,
  );
  assert.deepEqual([...installed], []);
});

test('conntrackAddress writes an address as the table does (IPv6 in full)', () => {
  assert.equal(conntrackAddress('::ffff:10.0.0.2'), '10.0.0.2');
  assert.equal(conntrackAddress('fd00:213::2'), 'fd00:0213:0000:0000:0000:0000:0000:0002');
  assert.equal(conntrackAddress('::1'), '0000:0000:0000:0000:0000:0000:0000:0001');
});

test('findOriginal reads the original tuple of the TCP entry of that client only', () => {
  const table = [
    'ipv4     2 udp      17 20 src=10.0.0.2 dst=10.0.0.9 sport=5000 dport=53 src=10.0.0.9 dst=10.0.0.2 sport=53 dport=5000 mark=0 use=2',
    'ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=10.0.0.2 sport=15001 dport=5000 src=10.0.0.2 dst=127.0.0.1 sport=5000 dport=15001 [ASSURED] mark=0 use=2',
    'ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.2 dst=10.213.0.3 sport=5000 dport=9001 src=127.0.0.1 dst=10.0.0.2 sport=15001 dport=5000 [ASSURED] mark=0 use=2',
  ].join('\n');
  assert.deepEqual(findOriginal(table, '10.0.0.2', 5000), { address: '10.213.0.3', port: 9001 });
  assert.equal(findOriginal(table, '10.0.0.2', 5001), undefined);
  const v6 =
    'ipv6     10 tcp      6 431999 ESTABLISHED src=fd00:0213:0000:0000:0000:0000:0000:0002 dst=fd00:0213:0000:0000:0000:0000:0000:0003 sport=5000 dport=9001 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=fd00:0213:0000:0000:0000:0000:0000:0002 sport=15001 dport=5000 [ASSURED] mark=0 zone=0 use=2';
  assert.deepEqual(findOriginal(v6, conntrackAddress('fd00:213::2'), 5000), {
    address: 'fd00:213::3',
    port: 9001,
  });
});

let net: Hosts | { refused: string };
before(async () => {
  net = await createHosts(1);
});
after(async () => {
  if (net && !('refused' in net)) await net.remove();
});

const CHILD = fileURLToPath(new URL('../helpers/original-dst-child.ts', import.meta.url));

test('real rules in a namespace, IPv4 and IPv6: the app group is redirected, the original destination is recovered, removal leaves nothing', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  const hosts = net;
  const [h] = hosts.hosts;
  const runner = (program: string) => async (args: string[]) => {
    const r = await hosts.exec(h, program, ['-w', '5', ...args]);
    if (r.code !== 0) throw new Error(r.stderr.trim() || `${program} exited ${r.code}`);
  };
  const capture = await installCapture(
    { ...SPEC, outboundPort: 7001 },
    { ipv4: runner('iptables'), ipv6: runner('ip6tables') },
  );
  // The app's connection to 10.213.0.77:8080 (or [fd00:213::77]:8080) landed on 7001; conntrack names where it was going.
  for (const address of ['10.213.0.77', 'fd00:213::77']) {
    const r = await hosts.exec(h, process.execPath, [CHILD, '7001', address, '8080', '1337'], {
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 0, `${address}: ${r.stderr}`);
    assert.deepEqual(JSON.parse(r.stdout), { original: { address, port: 8080 } });
  }
  await capture.remove();
  for (const program of ['iptables', 'ip6tables']) {
    const left = await hosts.exec(h, program, ['-t', 'nat', '-S']);
    assert.doesNotMatch(left.stdout, /WEFT_/, program);
  }
});
