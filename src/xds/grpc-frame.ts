// gRPC message framing: a 1-byte compressed flag, a 4-byte big-endian length, then the message.

/** Bytes before each message: the compressed flag and the length. */
export const GRPC_PREFIX_BYTES = 5;

/** Frames one uncompressed message. */
export function encodeGrpcMessage(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(GRPC_PREFIX_BYTES + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, GRPC_PREFIX_BYTES);
  return framed;
}

/** What a chunk of the response body held. */
export type GrpcReadResult =
  /** Every message completed by this chunk, in order (possibly none). */
  | { outcome: 'messages'; messages: Buffer[] }
  /** A message longer than the limit was announced; nothing more can be read. */
  | { outcome: 'too-large'; length: number }
  /** A compressed message, which was not negotiated (the client accepts identity only). */
  | { outcome: 'compressed' };

/** The buffer `read` assembles split messages in when they need not outlive the call (one per process). */
let shared = Buffer.allocUnsafe(0);

function transientBuffer(n: number): Buffer {
  if (shared.length < n) shared = Buffer.allocUnsafe(Math.max(n, 2 * shared.length, 64 * 1024));
  return shared.subarray(0, n);
}

/**
 * Reassembles messages from body chunks split anywhere (inside the prefix or the message).
 * Chunks are kept as a list and copied once per message, so a large message costs one copy.
 */
export class GrpcMessageReader {
  private readonly maxMessageBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Length of the message being read, once its prefix is in; -1 while waiting for a prefix. */
  private messageLength = -1;

  constructor(maxMessageBytes: number) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** Bytes received that do not yet form a whole message (non-zero at the end of a body: truncated). */
  get pending(): number {
    return this.buffered + (this.messageLength >= 0 ? GRPC_PREFIX_BYTES : 0);
  }

  push(chunk: Buffer): GrpcReadResult {
    const messages: Buffer[] = [];
    const refused = this.read(chunk, (message) => messages.push(message), false);
    return refused ?? { outcome: 'messages', messages };
  }

  /**
   * Like `push`, but hands each message to `onMessage` as it completes. With `transient`, a
   * message split across chunks is assembled in a buffer shared by every reader and reused for
   * the next one: it is valid only during the call (copy what must be kept). Large requests
   * (an ACK repeating thousands of names) then cost no allocation.
   */
  read(
    chunk: Buffer,
    onMessage: (message: Buffer) => void,
    transient = true,
  ): Exclude<GrpcReadResult, { outcome: 'messages' }> | undefined {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      if (this.messageLength < 0) {
        if (this.buffered < GRPC_PREFIX_BYTES) break;
        const prefix = this.take(GRPC_PREFIX_BYTES, transient);
        if (prefix[0] !== 0) return { outcome: 'compressed' };
        const length = prefix.readUInt32BE(1);
        if (length > this.maxMessageBytes) return { outcome: 'too-large', length };
        this.messageLength = length;
      }
      if (this.buffered < this.messageLength) break;
      const message = this.take(this.messageLength, transient);
      this.messageLength = -1;
      onMessage(message);
    }
    return undefined;
  }

  /** Removes the first `n` buffered bytes (n ≤ buffered) and returns them as one Buffer (in the shared one when `transient`). */
  private take(n: number, transient: boolean): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = transient ? transientBuffer(n) : Buffer.allocUnsafe(n);
    let copied = 0;
    let used = 0; // whole chunks consumed, removed at once below
    while (copied < n) {
      const chunk = this.chunks[used];
      const part = Math.min(chunk.length, n - copied);
      chunk.copy(out, copied, 0, part);
      copied += part;
      if (part === chunk.length) used++;
      else this.chunks[used] = chunk.subarray(part);
    }
    this.chunks.splice(0, used);
    return out;
  }
}
