// Many named deadlines on the one alarm a Durable Object has. The core's tick
// deadline (election timeout §5.2, heartbeats §5.2, check-quorum thesis §6.2),
// the oldest waiting client request's (host/deadline-queue.ts) and those of
// membership changes and transfers all live here; the storage alarm is armed
// for the earliest, and alarm() fires every timer that is due and arms the
// next one.
//
// setAlarm is a storage write, so it is skipped whenever the alarm is already
// armed at or before the earliest deadline: an alarm that comes early finds
// nothing due and simply re-arms, which is cheaper than rewriting the alarm on
// every heartbeat received.
//
// A failed setAlarm leaves no alarm we can count on, so the armed deadline is
// forgotten and the alarm armed again after a short, growing pause (an
// in-memory timer); without that, every later set() would trust the failed
// write and the node would never tick again.

/** The slice of DurableObjectStorage this needs (a test can wrap it to count writes). */
export interface AlarmStore {
  setAlarm(scheduledTime: number): Promise<void>;
}

/** First pause before re-arming after a failed setAlarm; doubled per failure in a row, up to the maximum. */
export const REARM_MIN_MS = 50;
export const REARM_MAX_MS = 5000;

interface Timer {
  at: number;
  fire: () => void;
}

export class AlarmTimers {
  private readonly timers = new Map<string, Timer>();
  private armed: number | null;
  private writes = 0;
  private failures = 0;
  /** Failures in a row: the pause before the next re-arm grows with it. */
  private streak = 0;
  /** A re-arm after a failed setAlarm is scheduled: arming waits for it, so a broken store is not hammered. */
  private retry: ReturnType<typeof setTimeout> | null = null;

  /** `armedAt`: the alarm already pending in storage (ctx.storage.getAlarm()), so a restart does not rewrite it. */
  constructor(
    private readonly store: AlarmStore,
    armedAt: number | null,
    private readonly onArmError: (err: unknown) => void,
  ) {
    this.armed = armedAt;
  }

  /** Schedule (or move) the timer called `name`; it fires once, from alarm(). */
  set(name: string, at: number, fire: () => void): void {
    this.timers.set(name, { at, fire });
    // An alarm armed at or before `at` already covers it: no need to look at the others.
    if (this.armed !== null && this.armed <= at) return;
    this.arm();
  }

  /** Forget a timer. No storage write: if it was the earliest, the alarm fires early and finds nothing. */
  clear(name: string): void {
    this.timers.delete(name);
  }

  has(name: string): boolean {
    return this.timers.has(name);
  }

  /** The time the storage alarm is armed for, as far as this object knows. */
  get armedAt(): number | null {
    return this.armed;
  }

  /** How many setAlarm writes were made (observability and tests). */
  get armWrites(): number {
    return this.writes;
  }

  /** The earliest pending deadline, or null. */
  earliest(): number | null {
    let min: number | null = null;
    for (const t of this.timers.values()) if (min === null || t.at < min) min = t.at;
    return min;
  }

  /**
   * Call from the Durable Object's alarm(): the runtime has used up the armed
   * alarm. Fires, in deadline order, every timer due at `now` (timers a
   * callback adds wait for the next alarm), then arms the alarm again.
   */
  fire(now: number): void {
    this.armed = null;
    const due = [...this.timers.entries()].filter(([, t]) => t.at <= now).sort(([, a], [, b]) => a.at - b.at);
    try {
      for (const [name, timer] of due) {
        // An earlier callback may have cleared or moved this timer.
        if (this.timers.get(name) !== timer) continue;
        this.timers.delete(name);
        timer.fire();
      }
    } finally {
      this.arm();
    }
  }

  /** How many setAlarm writes failed (observability and tests). */
  get armFailures(): number {
    return this.failures;
  }

  private arm(): void {
    if (this.retry !== null) return;
    const next = this.earliest();
    if (next === null) return;
    if (this.armed !== null && this.armed <= next) return;
    this.armed = next;
    this.writes++;
    this.store.setAlarm(next).then(
      () => {
        this.streak = 0;
      },
      (err: unknown) => this.armFailed(next, err),
    );
  }

  private armFailed(deadline: number, err: unknown): void {
    this.failures++;
    this.onArmError(err);
    // A later write (for an earlier deadline) supersedes this one; otherwise nothing is armed.
    if (this.armed !== deadline) return;
    this.armed = null;
    if (this.retry !== null) return;
    const pause = Math.min(REARM_MAX_MS, REARM_MIN_MS * 2 ** this.streak);
    this.streak++;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.arm();
    }, pause);
  }
}
