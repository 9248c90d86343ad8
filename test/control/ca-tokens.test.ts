// Bootstrap tokens (grant exactly one identity; tampering and expiry detected) and the operator token.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BootstrapTokens, TOKEN_KEY_FILE } from '../../src/control/ca/bootstrap-token.ts';
import {
  bearerToken,
  isLoopbackAddress,
  OPERATOR_TOKEN_FILE,
  OperatorToken,
} from '../../src/control/ca/operator-token.ts';
import { tempDir } from '../identity/fixtures.ts';

const id = { namespace: 'a', serviceAccount: 'x' };

describe('bootstrap tokens', () => {
  test('a minted token verifies and grants exactly its identity', () => {
    const tokens = new BootstrapTokens(randomBytes(32));
    const minted = tokens.mint(id, 3_600_000);
    const verdict = tokens.verify(minted.token);
    assert.equal(verdict.outcome, 'valid');
    assert.ok(verdict.outcome === 'valid');
    assert.deepEqual(verdict.identity, id);
    assert.equal(verdict.claims.exp - verdict.claims.iat, 3600);
    assert.match(verdict.claims.jti, /^[A-Za-z0-9_-]{22}$/);
  });

  test('changing the claims (sa=x → sa=y) breaks the signature', () => {
    const tokens = new BootstrapTokens(randomBytes(32));
    const [payload, mac] = tokens.mint(id).token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.sa = 'y';
    const forged = `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}`;
    assert.equal(tokens.verify(forged).outcome, 'bad-signature');
    // So does flipping one character of the MAC.
    const flipped = `${payload}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
    assert.equal(tokens.verify(flipped).outcome, 'bad-signature');
  });

  test('a token from another control plane (other key) is refused', () => {
    const ours = new BootstrapTokens(randomBytes(32));
    const theirs = new BootstrapTokens(randomBytes(32));
    assert.equal(ours.verify(theirs.mint(id).token).outcome, 'bad-signature');
  });

  test('expiry and issue time are checked against the clock', () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const tokens = new BootstrapTokens(randomBytes(32), () => now);
    const minted = tokens.mint(id, 60_000);
    now += 59_000;
    assert.equal(tokens.verify(minted.token).outcome, 'valid');
    now += 2_000;
    const expired = tokens.verify(minted.token);
    assert.equal(expired.outcome, 'expired');
    // Minted "in the future" (a clock far ahead on the minting side) is refused too.
    now = Date.parse('2030-01-01T00:00:00Z') - 10 * 60_000;
    assert.equal(tokens.verify(minted.token).outcome, 'not-yet-valid');
  });

  test('garbage never throws', () => {
    const tokens = new BootstrapTokens(randomBytes(32));
    for (const bad of [undefined, null, 42, '', '.', 'a.b.c', 'not a token', 'x'.repeat(5000), '!!.??', {}])
      assert.equal(tokens.verify(bad).outcome, 'malformed', String(bad));
    // Well-signed but nonsensical claims are malformed, not valid.
    const key = randomBytes(32);
    const signed = new BootstrapTokens(key);
    const payload = Buffer.from(JSON.stringify({ ns: '../x', sa: 'y', iat: 1, exp: 2e9, jti: 'j' })).toString(
      'base64url',
    );
    const mac = createHmac('sha256', key).update(payload).digest('base64url');
    assert.equal(signed.verify(`${payload}.${mac}`).outcome, 'malformed');
  });

  test('mint refuses invalid identities and lifetimes', () => {
    const tokens = new BootstrapTokens(randomBytes(32));
    assert.throws(() => tokens.mint({ namespace: 'a/b', serviceAccount: 'x' }), /namespace/);
    assert.throws(() => tokens.mint({ namespace: 'a', serviceAccount: '' }), /serviceAccount/);
    assert.throws(() => tokens.mint(id, 0), /ttl/);
  });

  test('the key is created once with mode 0600 and survives a restart', async (t) => {
    const dataDir = await tempDir(t);
    const first = await BootstrapTokens.open(dataDir);
    const path = join(dataDir, 'ca', TOKEN_KEY_FILE);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const minted = first.mint(id);
    const second = await BootstrapTokens.open(dataDir);
    assert.equal(second.verify(minted.token).outcome, 'valid');
    await writeFile(path, 'short\n');
    await assert.rejects(BootstrapTokens.open(dataDir), /does not hold a 32-byte/);
  });
});

describe('operator token', () => {
  test('generated once with mode 0600; only the right token matches', async (t) => {
    const dataDir = await tempDir(t);
    const token = await OperatorToken.open(dataDir);
    const path = join(dataDir, OPERATOR_TOKEN_FILE);
    assert.equal(token.path, path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const secret = (await readFile(path, 'utf8')).trim();
    assert.ok(secret.length >= 43);
    const again = await OperatorToken.open(dataDir);
    assert.ok(again.matches(secret));
    assert.equal(again.matches(`${secret}x`), false);
    assert.equal(again.matches(''), false);
    assert.equal(again.matches(undefined), false);
  });

  test('write access: loopback passes, others need the bearer token', async (t) => {
    const token = await OperatorToken.open(await tempDir(t));
    const secret = (await readFile(token.path, 'utf8')).trim();
    assert.equal(
      token.authorizeWrite({ remoteAddress: '127.0.0.1', authorization: undefined }),
      'allowed-loopback',
    );
    assert.equal(
      token.authorizeWrite({ remoteAddress: '::1', authorization: undefined }),
      'allowed-loopback',
    );
    assert.equal(
      token.authorizeWrite({ remoteAddress: '10.1.2.3', authorization: undefined }),
      'missing-token',
    );
    assert.equal(
      token.authorizeWrite({ remoteAddress: '10.1.2.3', authorization: 'Bearer nope' }),
      'invalid-token',
    );
    assert.equal(
      token.authorizeWrite({ remoteAddress: '10.1.2.3', authorization: `Bearer ${secret}` }),
      'allowed-token',
    );
    assert.equal(
      token.authorizeWrite({ remoteAddress: undefined, authorization: `Basic ${secret}` }),
      'missing-token',
    );
  });

  test('loopback and bearer parsing', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])
      assert.ok(isLoopbackAddress(a), a);
    for (const a of [undefined, '', '10.0.0.1', '::ffff:10.0.0.1', '::', '0.0.0.0', 'localhost', '128.0.0.1'])
      assert.equal(isLoopbackAddress(a), false, String(a));
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer   abc  '), 'abc');
    assert.equal(bearerToken(['Bearer abc', 'Bearer def']), 'abc');
    assert.equal(bearerToken('Bearer a b'), undefined);
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});
