// `weft proxy` as a user meets it: --help, and bad flags that exit 1 with one line saying what to fix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.ts';

test('weft proxy --help lists the contract flags', async () => {
  const r = await runCli(['proxy', '--help']);
  assert.equal(r.code, 0);
  for (const flag of [
    '--service',
    '--namespace',
    '--version',
    '--label',
    '--service-account',
    '--app-port',
    '--service-port',
    '--protocol',
    '--inbound-port',
    '--outbound-port',
    '--admin-port',
    '--server',
    '--drain-timeout',
    '--concurrency',
    '--max-connections',
    '--max-heap-mb',
  ])
    assert.ok(r.stdout.includes(flag), `${flag} missing from --help`);
});

test('bad flags exit 1 with a message and no stack trace', async () => {
  const cases: [string[], RegExp][] = [
    [['proxy', '--app-port', '8080'], /--service/],
    [['proxy', '--service', 'reviews'], /--app-port/],
    [['proxy', '--service', 'Bad_Name', '--app-port', '8080'], /--service "Bad_Name" must be a DNS label/],
    [['proxy', '--service', 'reviews', '--app-port', '99999'], /--app-port "99999" is not a port/],
    [
      ['proxy', '--service', 'reviews', '--app-port', '8080', '--protocol', 'smtp'],
      /--protocol "smtp" must be one of/,
    ],
    [
      ['proxy', '--service', 'reviews', '--app-port', '8080', '--label', 'novalue'],
      /--label "novalue" must look like key=value/,
    ],
    [['proxy', '--service', 'reviews', '--app-port', '8080', '--concurrency', '0'], /--concurrency "0"/],
    [['proxy', '--service', 'reviews', '--app-port', '8080', '--drain-timeout', 'soon'], /--drain-timeout/],
    [
      ['proxy', '--service', 'reviews', '--app-port', '8080', '--max-connections', '0'],
      /--max-connections "0" must be a number from 1 to/,
    ],
    [
      ['proxy', '--service', 'reviews', '--app-port', '8080', '--max-heap-mb', 'lots'],
      /--max-heap-mb "lots" must be a number from 1 to/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('--version belongs to the proxy (the workload version), not the program', async () => {
  // With a port that is not a port, the command fails on its own flags, which proves it parsed --version v2.
  const r = await runCli(['proxy', '--service', 'reviews', '--version', 'v2', '--app-port', 'x']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--app-port "x" is not a port/);
});
