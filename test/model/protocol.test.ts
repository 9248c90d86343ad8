// Port protocols by Istio's rules: explicit protocol, then port-name prefix, then appProtocol.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { portProtocol } from '../../src/model/protocol.ts';

test('explicit protocol wins, case-insensitively', () => {
  assert.equal(portProtocol({ protocol: 'grpc', name: 'http-web' }), 'GRPC');
  assert.equal(portProtocol({ protocol: 'HTTP2' }), 'HTTP2');
  assert.equal(portProtocol({ protocol: 'GRPC-Web' }), 'HTTP');
  assert.equal(portProtocol({ protocol: 'SCTP' }), 'UNKNOWN');
  assert.equal(portProtocol({ protocol: 'constructor' }), 'UNKNOWN');
});

test('port-name prefixes', () => {
  const cases: [string, string][] = [
    ['http', 'HTTP'],
    ['http-web', 'HTTP'],
    ['http2-api', 'HTTP2'],
    ['grpc', 'GRPC'],
    ['grpc-api', 'GRPC'],
    ['grpc-web', 'HTTP'],
    ['grpc-web-ui', 'HTTP'],
    ['tcp-db', 'TCP'],
    ['tls-passthrough', 'TLS'],
    ['https-admin', 'HTTPS'],
    ['mongo', 'MONGO'],
    ['redis-cache', 'REDIS'],
    ['HTTP-Upper', 'HTTP'],
    ['web', 'UNKNOWN'],
    ['httpx', 'UNKNOWN'],
    ['constructor', 'UNKNOWN'],
    ['tostring-x', 'UNKNOWN'],
  ];
  for (const [name, protocol] of cases) assert.equal(portProtocol({ name }), protocol, name);
});

test('appProtocol when the name says nothing', () => {
  assert.equal(portProtocol({ name: 'web', appProtocol: 'kubernetes.io/h2c' }), 'HTTP2');
  assert.equal(portProtocol({ name: 'web', appProtocol: 'grpc' }), 'GRPC');
  assert.equal(portProtocol({ name: 'http', appProtocol: 'grpc' }), 'HTTP');
  assert.equal(portProtocol({}), 'UNKNOWN');
});
