// Record framing for the store's files: length + CRC32 header, so torn and corrupt bytes are told apart.
//
// A record is `u32 BE payload length | u32 BE crc32(payload) | payload`. Records are only ever
// appended and each append is fsync'd before the next one starts, so only the last record of a
// log can be torn by a crash. A damaged record anywhere else is corruption.
import { crc32 } from 'node:zlib';
import { StoreCorruptError } from '../../errors.ts';

/** Bytes in a record header. */
export const HEADER_BYTES = 8;

/** Largest payload a record may carry (a sanity bound, far above the API's 8 MiB body limit). */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

/** What reading a log found at its end. */
export type TailState =
  /** Every byte belongs to a whole, valid record. */
  | 'clean'
  /** The last record was cut short or half-written by a crash; it is not data. */
  | 'torn';

export interface DecodedLog {
  /** Payloads of the whole, valid records, in file order. */
  payloads: Buffer[];
  /** Byte length of the valid prefix (where the next record must be written). */
  validBytes: number;
  tail: TailState;
}

/** Frames one payload as a record. */
export function encodeRecord(payload: Buffer): Buffer {
  if (payload.length === 0 || payload.length > MAX_PAYLOAD_BYTES)
    throw new RangeError(`record payload of ${payload.length} bytes is out of range`);
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** The offset of the first whole record with a matching checksum at or after `from`, or -1. */
function nextValidRecord(buf: Buffer, from: number): number {
  for (let at = from; at + HEADER_BYTES < buf.length; at++) {
    const length = buf.readUInt32BE(at);
    if (length === 0 || length > MAX_PAYLOAD_BYTES || at + HEADER_BYTES + length > buf.length) continue;
    if (crc32(buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length)) === buf.readUInt32BE(at + 4))
      return at;
  }
  return -1;
}

/**
 * A record whose length runs past the end of the file is a torn final write only when no whole
 * record follows its header. Payloads are JSON text, whose bytes never start a plausible header
 * (a length below 256 MiB begins with a byte under 0x10), so a valid record after it means the
 * length field itself was damaged and later records would be lost.
 */
function overrun(buf: Buffer, offset: number, file: string): void {
  const next = nextValidRecord(buf, offset + HEADER_BYTES);
  if (next >= 0)
    throw new StoreCorruptError(
      `${file}: the record at byte ${offset} has a damaged length field; a whole record follows at byte ${next}`,
    );
}

/**
 * Splits a log into record payloads. A damaged final record (cut short, a checksum that fails on
 * the record that ends the file, or a zero-filled tail) is reported as `torn`; a damaged record
 * followed by more data (a bad checksum, or a length that skips over whole records) throws
 * StoreCorruptError naming `file` and the offset. Nothing here writes to the file.
 */
export function decodeLog(buf: Buffer, file: string): DecodedLog {
  const payloads: Buffer[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const torn: DecodedLog = { payloads, validBytes: offset, tail: 'torn' };
    if (buf.length - offset < HEADER_BYTES) return torn;
    if (allZero(buf, offset)) return torn;
    const length = buf.readUInt32BE(offset);
    const checksum = buf.readUInt32BE(offset + 4);
    const end = offset + HEADER_BYTES + length;
    if (length === 0) throw new StoreCorruptError(`${file}: empty record at byte ${offset}`);
    if (length > MAX_PAYLOAD_BYTES || end > buf.length) {
      overrun(buf, offset, file);
      return torn;
    }
    const payload = buf.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== checksum) {
      if (end === buf.length) return torn;
      throw new StoreCorruptError(`${file}: checksum mismatch in the record at byte ${offset}`);
    }
    payloads.push(payload);
    offset = end;
  }
  return { payloads, validBytes: offset, tail: 'clean' };
}

/** Decodes a file that must hold exactly one whole record (a snapshot written by rename). */
export function decodeSingleRecord(buf: Buffer, file: string): Buffer {
  const log = decodeLog(buf, file);
  if (log.tail !== 'clean' || log.payloads.length !== 1)
    throw new StoreCorruptError(`${file}: expected one whole record, the file is damaged`);
  return log.payloads[0];
}
