// Work that waits for the next macrotask and then goes out together: the
// first item of a batch schedules one flush, later items join it. The node
// uses it for group commit (writes proposed together), for the reads of a node
// without peers, and for a leader's held-back log writes. `take` hands out
// what waits at once; the scheduled flush then finds nothing.

/** Runs `run` later; by default in the next macrotask. The simulator passes its virtual clock. */
export type Scheduler = (run: () => void) => void;

const nextMacrotask: Scheduler = (run) => {
  setTimeout(run, 0);
};

export class MacrotaskBatch<T> {
  private items: T[] = [];

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly schedule: Scheduler = nextMacrotask,
  ) {}

  add(item: T): void {
    this.items.push(item);
    if (this.items.length === 1) this.schedule(() => this.flushNow());
  }

  /** Everything waiting, oldest first; empties the batch. */
  take(): T[] {
    const items = this.items;
    this.items = [];
    return items;
  }

  get size(): number {
    return this.items.length;
  }

  private flushNow(): void {
    const items = this.take();
    if (items.length > 0) this.flush(items);
  }
}
