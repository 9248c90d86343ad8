// HPACK and Huffman of the proxy's HTTP/2 codec: the RFC 7541 examples, round trips through the dynamic table, and malformed blocks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HPACK_ERROR, HpackDecoder, HpackEncoder } from '../../src/proxy/http/h2/hpack.ts';
import { CODES, huffmanDecode, LENGTHS } from '../../src/proxy/http/h2/huffman.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decode(decoder: HpackDecoder, block: Buffer): string[] | number {
  const out: string[] = [];
  const size = decoder.decode(block, 0, block.length, out);
  return size < 0 ? size : out;
}

/** Huffman-encodes with the code table (the test's own encoder; the codec never Huffman-encodes). */
function huffman(text: Buffer): Buffer {
  let bits = '';
  for (const byte of text) bits += CODES[byte].toString(2).padStart(LENGTHS[byte], '0');
  while (bits.length % 8 !== 0) bits += '1';
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  return out;
}

test('Huffman: the RFC 7541 C.4.1 string, and codes of the table as printed in Appendix B', () => {
  const out = Buffer.alloc(64);
  const www = hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff');
  assert.equal(huffmanDecode(www, 0, www.length, out), 'www.example.com');
  assert.equal(CODES[0], 0x1ff8);
  assert.equal(CODES[32], 0x14);
  assert.equal(CODES[97], 0x3);
  assert.equal(CODES[255], 0x3ffffee);
  assert.equal(CODES[256], 0x3fffffff);
});

test('Huffman: every byte value round-trips; EOS inside a string and bad padding are refused', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_v, i) => i));
  const coded = huffman(all);
  const out = Buffer.alloc(1024);
  assert.deepEqual(Buffer.from(huffmanDecode(coded, 0, coded.length, out)!, 'latin1'), all);
  // Padding of 8 one-bits (a whole byte of EOS prefix) is too long.
  const padded = Buffer.concat([huffman(Buffer.from('a')), Buffer.from([0xff])]);
  assert.equal(huffmanDecode(padded, 0, padded.length, out), null);
  // 'a' (00011) padded with zeros, not ones.
  assert.equal(huffmanDecode(Buffer.from([0x18]), 0, 1, out), null);
  // Four bytes of ones: EOS (30 bits) inside the string.
  assert.equal(huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, out), null);
});

/** The first request of RFC 7541 C.3 and C.4. */
const FIRST = [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'];

test('HPACK: the RFC 7541 C.3 and C.4 request sequences share one dynamic table', () => {
  const plain = new HpackDecoder();
  assert.deepEqual(decode(plain, hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')), FIRST);
  assert.deepEqual(decode(plain, hex('8286 84be 5808 6e6f 2d63 6163 6865')), [
    ...FIRST,
    'cache-control',
    'no-cache',
  ]);
  assert.deepEqual(
    decode(plain, hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65')),
    [
      ':method',
      'GET',
      ':scheme',
      'https',
      ':path',
      '/index.html',
      ':authority',
      'www.example.com',
      'custom-key',
      'custom-value',
    ],
  );
  const coded = new HpackDecoder();
  assert.deepEqual(decode(coded, hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')), FIRST);
  assert.deepEqual(decode(coded, hex('8286 84be 5886 a8eb 1064 9cbf')), [
    ...FIRST,
    'cache-control',
    'no-cache',
  ]);
});

test('HPACK: blocks the encoder writes decode to the same fields, with repeats indexed', () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  const buf = Buffer.alloc(8192);
  const fields = [
    ':method',
    'POST',
    ':scheme',
    'http',
    ':path',
    '/echo.Echo/Unary',
    ':authority',
    'echo:50051',
    'content-type',
    'application/grpc',
    'te',
    'trailers',
    'x-request-id',
    'a1b2',
    'authorization',
    'Bearer x',
  ];
  let previous = 0;
  for (let round = 0; round < 3; round++) {
    const end = encoder.encode(fields, buf, 0);
    assert.deepEqual(decode(decoder, buf.subarray(0, end)), fields);
    if (round > 0) assert.ok(end < previous || round > 1, 'repeated fields are indexed');
    previous = end;
  }
  // Many distinct fields evict old entries on both sides alike.
  for (let i = 0; i < 300; i++) {
    const many = ['x-custom', `value-${i}-${'v'.repeat(i % 50)}`, ':path', `/p/${i % 7}`];
    const end = encoder.encode(many, buf, 0);
    assert.deepEqual(decode(decoder, buf.subarray(0, end)), many);
  }
  // The peer lowers its table size: the encoder says so first, the decoder follows.
  encoder.setPeerTableSize(100);
  const end = encoder.encode(fields, buf, 0);
  assert.equal(buf[0] & 0xe0, 0x20);
  assert.deepEqual(decode(decoder, buf.subarray(0, end)), fields);
});

test('HPACK: malformed blocks are compression errors', () => {
  const bad = [
    '80', // index 0
    'ff 00', // index 127: not in an empty dynamic table
    '82 3f e1 1f', // table size update after a field, and above our setting
    '40 05 61 62', // literal name longer than the block
    '41 ff ff ff ff ff 7f', // integer overflow
    '00 81 ff 01 61', // Huffman name that is EOS padding only... then a literal value
  ];
  for (const block of bad) assert.equal(decode(new HpackDecoder(), hex(block)), HPACK_ERROR, block);
});
