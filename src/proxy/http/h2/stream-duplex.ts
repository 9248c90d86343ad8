// An HTTP/2 stream as a Node Duplex, for the one place that needs a byte stream: a CONNECT tunnel spliced to a socket.
import { Duplex } from 'node:stream';
import { CANCEL } from './frames.ts';
import type { H2Stream, H2StreamHandler } from './stream.ts';

export class H2StreamDuplex extends Duplex implements H2StreamHandler {
  private readonly h2: H2Stream;
  private waiting: ((error?: Error | null) => void) | null = null;

  /** Takes over `h2`'s callbacks. */
  constructor(h2: H2Stream) {
    super({ allowHalfOpen: true });
    this.h2 = h2;
    h2.handler = this;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.h2.write(chunk)) callback();
    else this.waiting = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.h2.end();
    callback();
  }

  override _read(): void {
    this.h2.pause(false);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.h2.reset(CANCEL);
    this.onWritable();
    callback(error);
  }

  onHeaders(): void {
    this.push(null);
  }

  onData(_stream: H2Stream, chunk: Buffer, endStream: boolean): void {
    if (chunk.length > 0 && !this.push(chunk)) this.h2.pause(true);
    if (endStream) this.push(null);
  }

  onReset(): void {
    this.destroy();
  }

  onWritable(): void {
    const callback = this.waiting;
    this.waiting = null;
    callback?.();
  }
}
