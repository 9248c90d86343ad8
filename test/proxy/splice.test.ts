// splice(): both directions are flushed before the two sides are closed.
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { splice } from '../../src/proxy/common/splice.ts';

/** A side whose writes complete slowly (an HTTP/2 stream waiting for its peer's window), read side already ended. */
function slowSink(received: Buffer[]): Duplex {
  const sink = new Duplex({
    highWaterMark: 1024,
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      setTimeout(() => {
        received.push(chunk);
        callback();
      }, 5);
    },
  });
  sink.push(null);
  return sink;
}

test('splice: what a slow side has not flushed yet when both directions end still reaches it', async () => {
  const received: Buffer[] = [];
  const a = slowSink(received);
  const b = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  for (let i = 0; i < 20; i++) b.push(Buffer.alloc(1000, i));
  b.push(null);
  const outcome = await new Promise<string>((resolve) => splice(a, b, undefined, undefined, resolve));
  assert.equal(outcome, 'closed');
  const all = Buffer.concat(received);
  assert.equal(all.length, 20_000);
  for (let i = 0; i < 20; i++) assert.equal(all[i * 1000], i);
  assert.ok(a.destroyed && b.destroyed, 'both sides are closed at the end');
});
