// Coarse idle timeouts for many short-lived objects (HTTP/2 streams): one interval per timeout, activity is a field write.

/** Something with an idle timeout: its owner sets `idleTicks = 0` on every sign of activity. */
export interface IdleMember {
  /** Sweeps since the last activity (the owner resets it; the sweep counts it up). */
  idleTicks: number;
  /** The timeout ran out; the member has left the sweep. */
  onIdle(): void;
}

/** Sweeps per timeout: a member goes idle between `timeoutMs` and 1.25 × `timeoutMs` after its last activity. */
const TICKS = 4;

/**
 * Idle timeouts without a timer per member: a per-object Node timer costs an allocation and a
 * timer-list insertion, and would be refreshed on every read and write of the stream.
 * The interval runs only while there are members.
 */
export class IdleSweep {
  private readonly members = new Set<IdleMember>();
  private readonly periodMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.periodMs = Math.max(1, Math.ceil(timeoutMs / TICKS));
  }

  add(member: IdleMember): void {
    member.idleTicks = 0;
    this.members.add(member);
    if (this.timer === undefined) this.timer = setInterval(this.sweep, this.periodMs).unref();
  }

  delete(member: IdleMember): void {
    this.members.delete(member);
  }

  get size(): number {
    return this.members.size;
  }

  private readonly sweep = (): void => {
    if (this.members.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    for (const m of this.members) {
      if (++m.idleTicks <= TICKS) continue;
      this.members.delete(m);
      m.onIdle();
    }
  };
}
