// A node's timer, shaped like a Durable Object alarm: one per node, and
// setting it replaces the previous one. It fires late by a random jitter
// (alarms are not punctual), and now and then fires early for no reason (an
// alarm may run more than once), which the core must shrug off.
import type { Clock } from './clock';
import { violation } from './checkers/violation';
import type { Prng, Ratio } from './prng';

export interface AlarmOptions {
  jitterMaxMs: number;
  /** Chance, per set(), of an extra firing at a random earlier moment. */
  spurious: Ratio;
}

export class Alarm {
  private token = 0;
  /** Time of the queued event for the current token (Infinity: none queued). */
  private queuedAt = Infinity;
  /** When the alarm is due, jitter included (Infinity: not set). */
  private target = Infinity;
  private firedAt = -1;
  private firesThisInstant = 0;

  constructor(
    private readonly clock: Clock,
    private readonly prng: Prng,
    private readonly opts: AlarmOptions,
    private readonly name: string,
    private readonly fire: () => void,
  ) {}

  /** Arms the alarm for `at` (global time), replacing any earlier setting. */
  set(at: number): void {
    if (!Number.isFinite(at)) {
      this.target = Infinity;
      return;
    }
    const jitter = this.opts.jitterMaxMs > 0 ? this.prng.between(0, this.opts.jitterMaxMs) : 0;
    this.target = Math.max(this.clock.now, at + jitter);
    // A later target reuses the queued event: when it runs early it re-queues itself.
    if (this.target < this.queuedAt) this.queue(this.target);
    if (this.prng.chance(this.opts.spurious)) {
      const token = this.token;
      this.clock.after(this.prng.between(0, Math.max(0, this.target - this.clock.now)), () => {
        if (token === this.token) this.fire();
      });
    }
  }

  /** Forgets everything (the node crashed). */
  cancel(): void {
    this.token++;
    this.queuedAt = Infinity;
    this.target = Infinity;
  }

  /** Fires again at `at` (a paused node could not take the tick). */
  postpone(at: number): void {
    this.target = at;
    this.queue(at);
  }

  private queue(at: number): void {
    const token = ++this.token;
    this.queuedAt = at;
    this.clock.at(at, () => this.run(token));
  }

  private run(token: number): void {
    if (token !== this.token) return;
    this.queuedAt = Infinity;
    const now = this.clock.now;
    if (!Number.isFinite(this.target)) return;
    if (now < this.target) return this.queue(this.target); // it was moved later
    if (now === this.firedAt) {
      if (++this.firesThisInstant > 1000) throw violation('host', now, `${this.name}: tick loop, the deadline never moves past ${now}ms`);
    } else {
      this.firedAt = now;
      this.firesThisInstant = 0;
    }
    this.target = Infinity;
    this.fire();
  }
}
