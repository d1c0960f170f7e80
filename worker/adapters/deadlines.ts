// Time limits for many waits, kept under one timer that is never cleared.
//
// In a Durable Object, workerd keeps about 160 bytes for every timer cleared
// before it fires, for as long as the object lives; a timer that fires, or one
// in a Worker's request, leaves nothing (`npx tsx
// bench/probes/timer-memory.ts`). A leader that armed a timer for every frame
// to a follower and cleared it when the answer came grew by that much per
// frame: tens of MiB per million writes (docs/launcher-memory.md). So a wait
// with a time limit registers here: one timer runs to the earliest limit,
// and each one it finds due is expired; an answer only removes its entry.
// The limits are as exact as separate timers would be.

/** Starts a timer that is never cleared; `setTimeout` unless a test passes its own. */
export type StartTimer = (run: () => void, ms: number) => void;

interface Due {
  at: number;
  expire: () => void;
}

export class Deadlines<K> {
  private readonly due = new Map<K, Due>();
  /** When the running timer fires; Infinity when none runs. */
  private armedAt = Infinity;

  constructor(
    private readonly now: () => number,
    private readonly startTimer: StartTimer = (run, ms) => void setTimeout(run, ms),
  ) {}

  /** Calls `expire` in `ms` unless `cancel(key)` comes first. A key already waiting gets the new limit. */
  add(key: K, ms: number, expire: () => void): void {
    const at = this.now() + ms;
    this.due.set(key, { at, expire });
    if (at < this.armedAt) this.arm(at);
  }

  /** Removes `key`'s limit; false if it had none (it expired, or was never added). */
  cancel(key: K): boolean {
    return this.due.delete(key);
  }

  /** Waits with a limit still to come. */
  get size(): number {
    return this.due.size;
  }

  private arm(at: number): void {
    this.armedAt = at;
    this.startTimer(() => this.fire(at), Math.max(0, at - this.now()));
  }

  private fire(at: number): void {
    // A timer superseded by an earlier one: that one re-armed as needed.
    if (at !== this.armedAt) return;
    this.armedAt = Infinity;
    // Whatever was due by the time this timer was set for is due, even if the
    // clock reads a little earlier (workerd's clock moves only with I/O).
    const now = Math.max(this.now(), at);
    const expired: (() => void)[] = [];
    let next = Infinity;
    for (const [key, d] of this.due) {
      if (d.at <= now) {
        this.due.delete(key);
        expired.push(d.expire);
      } else if (d.at < next) next = d.at;
    }
    if (next < Infinity) this.arm(next);
    for (const expire of expired) expire();
  }
}
