// Many named deadlines on the one alarm a Durable Object has. The core's tick
// deadline (election timeout §5.2, heartbeats §5.2, check-quorum thesis §6.2)
// and the deadline of every waiting client request all live here; the storage
// alarm is armed for the earliest, and alarm() fires every timer that is due
// and arms the next one.
//
// setAlarm is a storage write, so it is skipped whenever the alarm is already
// armed at or before the earliest deadline: an alarm that comes early finds
// nothing due and simply re-arms, which is cheaper than rewriting the alarm on
// every heartbeat received.

/** The slice of DurableObjectStorage this needs (a test can wrap it to count writes). */
export interface AlarmStore {
  setAlarm(scheduledTime: number): Promise<void>;
}

interface Timer {
  at: number;
  fire: () => void;
}

export class AlarmTimers {
  private readonly timers = new Map<string, Timer>();
  private armed: number | null;
  private writes = 0;

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

  private arm(): void {
    const next = this.earliest();
    if (next === null) return;
    if (this.armed !== null && this.armed <= next) return;
    this.armed = next;
    this.writes++;
    this.store.setAlarm(next).catch(this.onArmError);
  }
}
