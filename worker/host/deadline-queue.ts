// The deadlines of waiting client requests, on one named timer. Every client
// request gets the same timeout from a clock that does not go back, so
// deadlines arrive in order and a first-in, first-out queue keeps them
// sorted: adding one is a push, and the timer only ever needs the oldest.
// Requests settle in about the order they came, so each settlement drops the
// settled ones from the front, and the queue holds about the requests in
// flight. A named timer per request would cost a map entry, a name and a
// closure each, made and dropped thousands of times a second.
import type { HostTimers } from './ports';

export class DeadlineQueue {
  private refs: number[] = [];
  private deadlines: number[] = [];
  /** Position of the oldest entry still queued. */
  private head = 0;

  /**
   * `waiting(ref)`: whether the request is still unanswered; `expire(ref)`
   * answers it timeout. The timer is called `timer`.
   */
  constructor(
    private readonly timers: HostTimers,
    private readonly timer: string,
    private readonly clock: () => number,
    private readonly waiting: (ref: number) => boolean,
    private readonly expire: (ref: number) => void,
  ) {}

  /** Requests queued, answered or not (tests). */
  get size(): number {
    return this.refs.length - this.head;
  }

  /** `ref` times out at `at` (no earlier than any deadline queued before it). */
  add(ref: number, at: number): void {
    const last = this.deadlines[this.deadlines.length - 1];
    const wasEmpty = this.size === 0;
    this.refs.push(ref);
    // A clock that stepped back must not leave an earlier deadline behind a later one.
    this.deadlines.push(last !== undefined && last > at ? last : at);
    if (wasEmpty) this.arm();
  }

  /** A request was answered: drop answered requests from the front. The timer stays; if it fires early it finds nothing due. */
  settled(): void {
    while (this.head < this.refs.length && !this.waiting(this.refs[this.head]!)) this.head++;
    this.compact();
  }

  private fire(): void {
    const now = this.clock();
    while (this.head < this.refs.length && this.deadlines[this.head]! <= now) {
      const ref = this.refs[this.head++]!;
      if (this.waiting(ref)) this.expire(ref);
    }
    // Expiring answered requests, which ran settled() and moved the head on.
    this.settled();
    if (this.size > 0) this.arm();
  }

  private arm(): void {
    this.timers.set(this.timer, this.deadlines[this.head]!, () => this.fire());
  }

  /** Drop the consumed front once it is most of the arrays. */
  private compact(): void {
    if (this.head === this.refs.length) {
      this.refs = [];
      this.deadlines = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.refs.length) {
      this.refs = this.refs.slice(this.head);
      this.deadlines = this.deadlines.slice(this.head);
      this.head = 0;
    }
  }
}
