// Virtual time and the event queue. Nothing in the simulator reads a real
// clock: time only moves when the next event is taken from the queue, so a
// run of ten virtual seconds takes as long as its events take to process.
//
// Events at the same instant run in the order they were scheduled (a
// sequence number breaks ties), which makes the order of every run a pure
// function of its seed.

export type EventAction = () => void;

/** Thrown when a run processes more events than `eventLimit`. */
export class EventLimitExceeded extends Error {
  constructor(limit: number, now: number) {
    super(`more than ${limit} events by ${now}ms: the run is looping (a message storm or a tick loop)`);
    this.name = 'EventLimitExceeded';
  }
}

interface Scheduled {
  at: number;
  seq: number;
  action: EventAction;
}

export class Clock {
  /** Current virtual time in milliseconds. */
  now = 0;
  /** How many events have run: a cheap progress measure and trace counter. */
  processed = 0;
  /** A run that processes more events than this is stuck in a loop (a message storm, a tick loop). */
  eventLimit = Infinity;
  private seq = 0;
  private readonly heap: Scheduled[] = [];

  /** Runs `action` at `now + delayMs` (never in the past). */
  after(delayMs: number, action: EventAction): void {
    this.at(this.now + Math.max(0, delayMs), action);
  }

  /** Runs `action` at absolute time `at`, or now if `at` has passed. */
  at(at: number, action: EventAction): void {
    const item: Scheduled = { at: Math.max(at, this.now), seq: this.seq++, action };
    this.heap.push(item);
    this.siftUp(this.heap.length - 1);
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Time of the next event, or Infinity when the queue is empty. */
  peekTime(): number {
    const top = this.heap[0];
    return top ? top.at : Infinity;
  }

  /** Runs the next event if it is due at or before `until`. Returns false when there is none. */
  step(until: number): boolean {
    const top = this.heap[0];
    if (!top || top.at > until) return false;
    this.pop();
    this.now = top.at;
    if (++this.processed > this.eventLimit) throw new EventLimitExceeded(this.eventLimit, this.now);
    top.action();
    return true;
  }

  /** Runs every event due at or before `until`, then leaves time at `until`. */
  runUntil(until: number, stop?: () => boolean): void {
    while (this.step(until)) {
      if (stop?.()) return;
    }
    if (this.now < until) this.now = until;
  }

  private pop(): void {
    const last = this.heap.pop();
    if (last && this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
  }

  private before(a: Scheduled, b: Scheduled): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    const item = h[i] as Scheduled;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as Scheduled;
      if (!this.before(item, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = item;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const item = h[i] as Scheduled;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && this.before(h[r] as Scheduled, h[l] as Scheduled)) child = r;
      const c = h[child] as Scheduled;
      if (!this.before(c, item)) break;
      h[i] = c;
      i = child;
    }
    h[i] = item;
  }
}
