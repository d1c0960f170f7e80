// The idle collector: one full collection when a quiet window follows enough
// work, none while the node works or while it has stayed idle.
import { describe, expect, it } from 'vitest';
import { exposedGc, IdleCollector } from './idle-collect';

const opts = { windowMs: 1000, quietWork: 10, minWork: 5000 };

/** A collector fed `work` per 100 ms step; returns it and the times at which it collected. */
function fed(steps: readonly number[]): { at: number[]; collector: IdleCollector } {
  const at: number[] = [];
  let now = 0;
  const collector = new IdleCollector(() => at.push(now), now, opts);
  for (const work of steps) {
    now += 100;
    collector.observe(work, now);
  }
  return { at, collector };
}

const busy = (ms: number, perStep: number) => Array<number>(ms / 100).fill(perStep);
const quiet = (ms: number) => Array<number>(ms / 100).fill(0);

describe('IdleCollector', () => {
  it('collects once when a burst of work is followed by a quiet window', () => {
    const { at, collector } = fed([...busy(3000, 500), ...quiet(5000)]);
    // The burst's last work (at 3,000 ms) opens the window that closes at 4,000 ms;
    // the next window, from 4,000 ms, is the first quiet one.
    expect(at).toEqual([5000]);
    expect(collector.count).toBe(1);
  });

  it('never collects while the work goes on, nor in a node that was idle all along', () => {
    expect(fed(busy(10_000, 500)).at).toEqual([]);
    // Heartbeats are no work: an idle node sees Readys with nothing to store, apply or read.
    expect(fed(quiet(10_000)).at).toEqual([]);
  });

  it('waits for enough work to be worth a pause, counted across windows', () => {
    // 4,900 units, then quiet: not worth it.
    expect(fed([...busy(1000, 490), ...quiet(3000)]).at).toEqual([]);
    // A trickle (at most quietWork per window) adds up across quiet windows, then collects once.
    const trickle = Array.from({ length: 100 }, () => [...busy(100, 5), ...quiet(900)]).flat();
    expect(fed([...busy(1000, 490), ...trickle]).at).toHaveLength(1);
  });

  it('collects again only after new work', () => {
    const { at } = fed([...busy(2000, 500), ...quiet(3000), ...busy(2000, 500), ...quiet(3000), ...quiet(5000)]);
    expect(at).toEqual([4000, 9000]);
  });
});

describe('exposedGc', () => {
  it('is null where the runtime exposes no gc, as on Cloudflare or under plain Node', () => {
    const g = globalThis as { gc?: unknown };
    const saved = g.gc;
    try {
      delete g.gc;
      expect(exposedGc()).toBeNull();
      const calls: unknown[] = [];
      g.gc = (o: unknown) => calls.push(o);
      exposedGc()!();
      // A major collection that also shrinks the heap (V8's "last resort" flavour), run now.
      expect(calls).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
    } finally {
      if (saved === undefined) delete g.gc;
      else g.gc = saved;
    }
  });
});
