// Mesh DNS capture rules: the app's UDP and TCP port 53 go to the sidecar's DNS port, before the loopback exemption, in both families, and removal takes them out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CaptureSpec, captureRules } from '../../src/run/capture-rules.ts';

const SPEC: CaptureSpec = {
  id: '8100',
  appGid: 1337,
  appPort: 8100,
  inboundPort: 8101,
  outboundPort: 8102,
  includePorts: [],
  excludePorts: [],
  includeCidrs: [],
  excludeCidrs: [],
  dnsPort: 8153,
};

const line = (args: string[]) => args.join(' ');

for (const [family, loopbackRange] of [
  [4, '127.0.0.0/8'],
  [6, '::1/128'],
] as const)
  test(`IPv${family}, with a DNS port: port 53 of the app, UDP and TCP, is redirected to it before loopback is exempted`, () => {
    const { install, remove } = captureRules(SPEC, family);
    const lines = install.map(line);
    const udp = lines.indexOf('-t nat -A WEFT_OUT_8100 -p udp --dport 53 -j REDIRECT --to-ports 8153');
    const tcp = lines.indexOf('-t nat -A WEFT_OUT_8100 -p tcp --dport 53 -j REDIRECT --to-ports 8153');
    const loopback = lines.indexOf(`-t nat -A WEFT_OUT_8100 -d ${loopbackRange} -j RETURN`);
    assert.ok(udp >= 0 && tcp >= 0 && loopback > Math.max(udp, tcp), lines.join('\n'));
    const jump = '-t nat -A OUTPUT -p udp --dport 53 -m owner --gid-owner 1337 -j WEFT_OUT_8100';
    assert.ok(lines.includes(jump), 'only the app group UDP is sent to the chain');
    assert.ok(remove.map(line).includes(jump.replace(' -A ', ' -D ')), 'and removed with the unit');
  });

test('no DNS port (--no-capture-dns): no DNS rule', () => {
  const { dnsPort: _, ...withoutDns } = SPEC;
  for (const rules of [captureRules(withoutDns, 4), captureRules(withoutDns, 6)])
    for (const command of [...rules.install, ...rules.remove])
      assert.ok(!command.includes('53'), line(command));
});
