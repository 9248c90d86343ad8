// Transparent capture's building blocks: the iptables rules (real ones, in a network namespace), their roll-back, and the original destination from conntrack.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CaptureUnavailableError } from '../../src/errors.ts';
import { findOriginal } from '../../src/proxy/listener/original-dst.ts';
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
  await assert.rejects(installCapture(SPEC, run), (err: unknown) => {
    assert.ok(err instanceof CaptureUnavailableError);
    assert.equal(err.code, 'WEFT_CAPTURE_UNAVAILABLE');
    assert.match(err.message, /Permission denied.*CAP_NET_ADMIN.*nothing was left installed/);
    return true;
  });
  assert.deepEqual([...installed], []);
});

test('findOriginal reads the original tuple of the TCP entry of that client only', () => {
  const table = [
    'ipv4     2 udp      17 20 src=10.0.0.2 dst=10.0.0.9 sport=5000 dport=53 src=10.0.0.9 dst=10.0.0.2 sport=53 dport=5000 mark=0 use=2',
    'ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=10.0.0.2 sport=15001 dport=5000 src=10.0.0.2 dst=127.0.0.1 sport=5000 dport=15001 [ASSURED] mark=0 use=2',
    'ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.2 dst=10.213.0.3 sport=5000 dport=9001 src=127.0.0.1 dst=10.0.0.2 sport=15001 dport=5000 [ASSURED] mark=0 use=2',
  ].join('\n');
  assert.deepEqual(findOriginal(table, '10.0.0.2', 5000), { address: '10.213.0.3', port: 9001 });
  assert.equal(findOriginal(table, '10.0.0.2', 5001), undefined);
});

let net: Hosts | { refused: string };
before(async () => {
  net = await createHosts(1);
});
after(async () => {
  if (net && !('refused' in net)) await net.remove();
});

const CHILD = fileURLToPath(new URL('../helpers/original-dst-child.ts', import.meta.url));

test('real rules in a namespace: the app group is redirected, the original destination is recovered, removal leaves nothing', async (t) => {
  if ('refused' in net) return t.skip(net.refused);
  const hosts = net;
  const [h] = hosts.hosts;
  const iptables = async (args: string[]) => {
    const r = await hosts.exec(h, 'iptables', ['-w', '5', ...args]);
    if (r.code !== 0) throw new Error(r.stderr.trim() || `iptables exited ${r.code}`);
  };
  const capture = await installCapture({ ...SPEC, outboundPort: 7001 }, iptables);
  const r = await hosts.exec(h, process.execPath, [CHILD, '7001', '10.213.0.77', '8080', '1337'], {
    timeoutMs: 20_000,
  });
  assert.equal(r.code, 0, r.stderr);
  // The app's connection to 10.213.0.77:8080 landed on 7001; conntrack names where it was going.
  assert.deepEqual(JSON.parse(r.stdout), { original: { address: '10.213.0.77', port: 8080 } });
  await capture.remove();
  const left = await hosts.exec(h, 'iptables', ['-t', 'nat', '-S']);
  assert.doesNotMatch(left.stdout, /WEFT_/);
});
