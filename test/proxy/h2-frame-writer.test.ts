// The HTTP/2 frame writer: small DATA chunks of one stream in one tick join one frame; other streams, large chunks and END_STREAM keep their own.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import { FrameWriter } from '../../src/proxy/http/h2/frame-writer.ts';

/** A socket stand-in that keeps what is written (the writer only writes, corks and asks about drain). */
function sink(): { socket: net.Socket; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  const socket = {
    destroyed: false,
    writableNeedDrain: false,
    write: (b: Buffer) => parts.push(Buffer.from(b)) > 0,
    cork: () => {},
    uncork: () => {},
  } as unknown as net.Socket;
  return { socket, bytes: () => Buffer.concat(parts) };
}

/** Frames as [type, flags, stream id, payload]. */
function frames(buf: Buffer): [number, number, number, string][] {
  const out: [number, number, number, string][] = [];
  for (let p = 0; p < buf.length; ) {
    const len = buf.readUIntBE(p, 3);
    out.push([buf[p + 3], buf[p + 4], buf.readUInt32BE(p + 5), buf.subarray(p + 9, p + 9 + len).toString()]);
    p += 9 + len;
  }
  return out;
}

test('small chunks of one stream in one tick become one DATA frame; END_STREAM ends it and nothing joins after', () => {
  const { socket, bytes } = sink();
  const w = new FrameWriter(socket);
  for (const m of ['ab', 'cd', 'ef']) w.data(1, Buffer.from(m), 0, 2, false);
  w.data(3, Buffer.from('xy'), 0, 2, false);
  w.data(3, Buffer.from('z'), 0, 1, true);
  w.data(3, Buffer.from('late'), 0, 4, false);
  w.flush();
  assert.deepEqual(frames(bytes()), [
    [0, 0, 1, 'abcdef'],
    [0, 1, 3, 'xyz'],
    [0, 0, 3, 'late'],
  ]);
});

test('a frame never grows past the peer frame size, nor across a flush or another frame', () => {
  const { socket, bytes } = sink();
  const w = new FrameWriter(socket);
  const chunk = Buffer.alloc(400, 0x61);
  for (let i = 0; i < 50; i++) w.data(1, chunk, 0, chunk.length, false);
  w.windowUpdate(0, 10);
  w.data(1, Buffer.from('after'), 0, 5, false);
  w.flush();
  w.data(1, Buffer.from('next tick'), 0, 9, false);
  w.flush();
  const out = frames(bytes());
  const data = out.filter((f) => f[0] === 0);
  assert.ok(data.every((f) => f[3].length <= 16384));
  assert.equal(
    data.slice(0, -2).reduce((n, f) => n + f[3].length, 0),
    50 * 400,
  );
  assert.equal(data.length, 2 + Math.ceil((50 * 400) / (40 * 400)));
  assert.deepEqual(
    out.slice(-3).map((f) => [f[0], f[0] === 0 ? f[3] : '']),
    [
      [8, ''],
      [0, 'after'],
      [0, 'next tick'],
    ],
  );
});

test('control frames that need a new scratch buffer carry their payload (first frame, and one after a full scratch)', () => {
  const { socket, bytes } = sink();
  const w = new FrameWriter(socket);
  w.raw(Buffer.from('PRI'));
  w.flush();
  assert.equal(bytes().toString(), 'PRI', 'the first write of a writer');
  // 1,260 WINDOW_UPDATEs (13 bytes each) leave 4 bytes of the 16 KiB scratch: the next frames need a new one.
  for (let i = 1; i <= 1260; i++) w.windowUpdate(1, i);
  w.windowUpdate(1, 0x1234);
  w.reset(3, 8);
  w.pingAck(Buffer.from('12345678'), 0);
  w.flush();
  const after = bytes().subarray(3 + 1260 * 13);
  assert.deepEqual(
    [after.readUInt32BE(9), after.readUInt32BE(13 + 9), after.subarray(13 + 13 + 9, 13 + 13 + 17).toString()],
    [0x1234, 8, '12345678'],
  );
});
