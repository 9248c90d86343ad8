// Reads HTTP/1.1 responses off a keep-alive connection's bytes (Content-Length or chunked), for the open-loop generator.

/** Reads HTTP/1.1 responses from a byte stream (Content-Length or chunked bodies). */
export class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);
  private state: 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'trailer' = 'head';
  private remaining = 0;
  private status = 0;

  /** Feeds bytes; calls `done(status)` once per complete response. Returns an error text on bad input. */
  feed(chunk: Buffer, done: (status: number) => void): string | undefined {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.state === 'head') {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) return undefined;
        const head = this.buffer.toString('latin1', 0, end);
        this.buffer = this.buffer.subarray(end + 4);
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (!status) return `not an HTTP/1.1 response: ${JSON.stringify(head.slice(0, 80))}`;
        this.status = Number(status[1]);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) this.state = 'chunk-size';
        else if (length) {
          this.remaining = Number(length[1]);
          this.state = 'body';
        } else if (this.status === 204 || this.status === 304) this.remaining = 0;
        else return 'response without Content-Length or chunked body';
        if (this.state === 'head' || (this.state === 'body' && this.remaining === 0)) {
          this.state = 'head';
          done(this.status);
        }
        continue;
      }
      if (this.state === 'body' || this.state === 'chunk-data') {
        const take = Math.min(this.remaining, this.buffer.length);
        this.remaining -= take;
        this.buffer = this.buffer.subarray(take);
        if (this.remaining > 0) return undefined;
        if (this.state === 'body') {
          this.state = 'head';
          done(this.status);
        } else this.state = 'chunk-size';
        continue;
      }
      const eol = this.buffer.indexOf('\r\n');
      if (eol < 0) return undefined;
      const line = this.buffer.toString('latin1', 0, eol);
      this.buffer = this.buffer.subarray(eol + 2);
      if (this.state === 'chunk-size') {
        const size = Number.parseInt(line, 16);
        if (!Number.isFinite(size)) return `bad chunk size ${JSON.stringify(line)}`;
        if (size === 0) this.state = 'trailer';
        else {
          this.remaining = size + 2;
          this.state = 'chunk-data';
        }
      } else if (line === '') {
        this.state = 'head';
        done(this.status);
      }
    }
  }
}
