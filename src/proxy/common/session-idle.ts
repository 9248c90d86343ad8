// idle_timeout of an HTTP/2 session (downstream or pooled upstream) as Envoy defines it: no open stream for that long (one timer, touched only when the last stream closes).

/**
 * Counts a session's open streams; `onIdle` runs once the session has had none for `timeoutMs`.
 * A timeout refreshed on every frame would cost a timer-list insertion per frame; this one is
 * re-armed only when the count drops to zero.
 */
export class SessionIdle {
  private open = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly onIdle: () => void;

  constructor(timeoutMs: number, onIdle: () => void) {
    this.onIdle = onIdle;
    this.timer = setTimeout(this.fire, timeoutMs).unref();
  }

  streamOpened(): void {
    this.open++;
  }

  /** A bound method: the pool passes it on without a closure per stream. */
  readonly streamClosed = (): void => {
    // Restarts the countdown (refresh re-arms a timer that has already fired).
    if (--this.open === 0) this.timer.refresh();
  };

  /** The session is gone. */
  stop(): void {
    clearTimeout(this.timer);
  }

  private readonly fire = (): void => {
    // Streams are open: the last one to close starts the countdown again.
    if (this.open === 0) this.onIdle();
  };
}
