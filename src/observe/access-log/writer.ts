// An access log file written off the request path: lines are queued (bounded) and written in batches; a full queue drops and counts.
import { close, open, write } from 'node:fs';

/** Most bytes a writer holds while the file is slow; further lines are dropped (and counted). */
export const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export class AccessLogWriter {
  readonly path: string;
  /** Lines written to the file. */
  written = 0;
  /** Lines dropped: queue full, or the write failed. */
  dropped = 0;
  private readonly maxQueued: number;
  private fd: number | undefined;
  private queue: string[] = [];
  private queuedBytes = 0;
  private busy = false;
  private closed = false;

  constructor(path: string, maxQueued = MAX_QUEUED_BYTES) {
    this.path = path;
    this.maxQueued = maxQueued;
  }

  /** Queues one line (with its newline); never blocks. */
  write(line: string): void {
    if (this.closed || this.queuedBytes + line.length > this.maxQueued) {
      this.dropped++;
      return;
    }
    this.queue.push(line);
    this.queuedBytes += line.length;
    if (!this.busy) {
      this.busy = true;
      setImmediate(this.flush);
    }
  }

  /** Lines queued and not yet written. */
  get queued(): number {
    return this.queue.length;
  }

  private readonly flush = (): void => {
    if (this.queue.length === 0) {
      this.busy = false;
      return;
    }
    if (this.fd === undefined) {
      open(this.path, 'a', (err, fd) => {
        if (err) return this.fail();
        if (this.closed) return close(fd, () => {});
        this.fd = fd;
        this.flush();
      });
      return;
    }
    const lines = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    write(this.fd, lines.join(''), (err) => {
      if (err) this.dropped += lines.length;
      else this.written += lines.length;
      this.flush();
    });
  };

  /** The file cannot be opened: what is queued is dropped; the next line tries again. */
  private fail(): void {
    this.dropped += this.queue.length;
    this.queue = [];
    this.queuedBytes = 0;
    this.busy = false;
  }

  /** Stops writing (lines still queued are written first); the file is closed after. */
  close(): void {
    this.closed = true;
    const fd = this.fd;
    if (fd === undefined || fd <= 2) return;
    const done = () => (this.busy ? setTimeout(done, 10) : close(fd, () => {}));
    done();
  }
}
