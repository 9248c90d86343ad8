// A minimal DER writer: the few ASN.1 encodings a PKCS#10 certificate request needs.

/** Tags used by weft's DER output. */
export const DER_TAG = {
  integer: 0x02,
  bitString: 0x03,
  null: 0x05,
  objectIdentifier: 0x06,
  sequence: 0x30,
  /** `[0]` constructed, context-specific (PKCS#10 attributes). */
  context0: 0xa0,
} as const;

/** The DER length octets: short form below 128, long form (0x80 | byte count, big-endian) above. */
function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: tag, length, contents. */
export function derTlv(tag: number, contents: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(contents.length), contents]);
}

/** SEQUENCE of already encoded elements. */
export function derSequence(...elements: Uint8Array[]): Buffer {
  return derTlv(DER_TAG.sequence, Buffer.concat(elements));
}

/** A small non-negative INTEGER (PKCS#10's version). */
export function derSmallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0x7f)
    throw new RangeError(`derSmallInteger: ${value} is not in 0..127`);
  return derTlv(DER_TAG.integer, Buffer.from([value]));
}

/** BIT STRING of whole bytes (no unused bits). */
export function derBitString(bytes: Uint8Array): Buffer {
  return derTlv(DER_TAG.bitString, Buffer.concat([Buffer.from([0]), bytes]));
}

/** OBJECT IDENTIFIER from its dotted form (`1.2.840.10045.4.3.2`). */
export function derObjectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0))
    throw new RangeError(`derObjectIdentifier: ${dotted} is not an OID`);
  const bytes = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) base128.unshift(0x80 | (n & 0x7f));
    bytes.push(...base128);
  }
  return derTlv(DER_TAG.objectIdentifier, Buffer.from(bytes));
}
