// A full garbage collection when a node falls quiet after a burst of work.
//
// Under load V8 lets a node's heap grow far past what it holds alive (a
// leader at 64 clients commits 40-80 MiB for about 7 MiB live), and an idle
// node allocates too little to reach its next collection for a long time, so
// the memory a burst took stays with the process. When the launcher gives
// workerd `--expose-gc`, the node calls that collection itself once the work
// stops: one pause of tens of milliseconds while nothing waits on it. Without
// the flag (Cloudflare, wrangler dev) there is no `gc` and this does nothing.
//
// Work is what the host's Ready carries: entries to store, entries to apply,
// reads to answer. A heartbeat is not work, so an idle cluster never collects.

export interface IdleCollectOptions {
  /** Length of the window that decides whether the node is quiet. */
  windowMs: number;
  /** A window with at most this much work is quiet. */
  quietWork: number;
  /** Work since the last collection that makes a collection worth its pause. */
  minWork: number;
}

export const idleCollectDefaults: IdleCollectOptions = { windowMs: 1000, quietWork: 10, minWork: 5000 };

export class IdleCollector {
  private windowStart: number;
  private inWindow = 0;
  private sinceCollect = 0;
  private collections = 0;

  constructor(
    private readonly collect: () => void,
    now: number,
    private readonly opts: IdleCollectOptions = idleCollectDefaults,
  ) {
    this.windowStart = now;
  }

  /** Counts `work` done at `now`; when a quiet window ends a busy stretch, collects once. */
  observe(work: number, now: number): void {
    this.sinceCollect += work;
    if (now - this.windowStart < this.opts.windowMs) {
      this.inWindow += work;
      return;
    }
    const quiet = this.inWindow <= this.opts.quietWork;
    this.windowStart = now;
    this.inWindow = work;
    if (!quiet || this.sinceCollect < this.opts.minWork) return;
    this.sinceCollect = 0;
    this.collections++;
    this.collect();
  }

  /** Collections made so far. */
  get count(): number {
    return this.collections;
  }
}

type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => unknown;

/** The isolate's full collection when workerd runs with `--expose-gc`; null otherwise. */
export function exposedGc(): (() => void) | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== 'function') return null;
  const run = gc as GcFunction;
  return () => void run({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
