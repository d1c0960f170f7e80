import { describe, expect, it } from 'vitest';
import { Deadlines } from './deadlines';

/** A clock and a timer queue the test moves by hand. */
function manualTime() {
  let now = 0;
  const timers: { at: number; run: () => void }[] = [];
  return {
    now: () => now,
    start: (run: () => void, ms: number) => void timers.push({ at: now + ms, run }),
    /** Moves the clock to `to`, firing each timer due on the way, in order. */
    advance(to: number) {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (next === undefined || next.at > to) break;
        timers.shift();
        now = next.at;
        next.run();
      }
      now = to;
    },
    get started() {
      return timers.length;
    },
  };
}

describe('Deadlines', () => {
  it('expires a wait at its limit, not before', () => {
    const t = manualTime();
    const d = new Deadlines<number>(t.now, t.start);
    const expired: number[] = [];
    d.add(1, 100, () => expired.push(1));
    t.advance(99);
    expect(expired).toEqual([]);
    t.advance(100);
    expect(expired).toEqual([1]);
    expect(d.size).toBe(0);
  });

  it('runs one timer for many waits with the same limit', () => {
    const t = manualTime();
    const d = new Deadlines<number>(t.now, t.start);
    const expired: number[] = [];
    for (let i = 0; i < 50; i++) {
      t.advance(i);
      d.add(i, 100, () => expired.push(i));
    }
    expect(t.started).toBe(1);
    t.advance(120);
    expect(expired).toEqual(Array.from({ length: 21 }, (_, i) => i));
    t.advance(1000);
    expect(expired).toHaveLength(50);
  });

  it('a cancelled wait never expires, and cancelling clears no timer', () => {
    const t = manualTime();
    const d = new Deadlines<string>(t.now, t.start);
    const expired: string[] = [];
    d.add('a', 100, () => expired.push('a'));
    d.add('b', 150, () => expired.push('b'));
    expect(d.cancel('a')).toBe(true);
    expect(d.cancel('a')).toBe(false);
    t.advance(200);
    expect(expired).toEqual(['b']);
  });

  it('a shorter limit added later is kept exactly', () => {
    const t = manualTime();
    const d = new Deadlines<string>(t.now, t.start);
    const when: Record<string, number> = {};
    d.add('long', 1000, () => (when.long = t.now()));
    t.advance(10);
    d.add('short', 50, () => (when.short = t.now()));
    t.advance(2000);
    expect(when).toEqual({ short: 60, long: 1000 });
  });

  it('a wait added while expiring others is timed from then', () => {
    const t = manualTime();
    const d = new Deadlines<number>(t.now, t.start);
    const expired: [number, number][] = [];
    d.add(1, 100, () => {
      expired.push([1, t.now()]);
      d.add(2, 100, () => expired.push([2, t.now()]));
    });
    t.advance(500);
    expect(expired).toEqual([
      [1, 100],
      [2, 200],
    ]);
  });

  it('a timer that fires while the clock still reads earlier expires what it was set for', () => {
    let now = 0;
    const runs: (() => void)[] = [];
    const d = new Deadlines<number>(
      () => now,
      (run) => void runs.push(run),
    );
    let expired = false;
    d.add(1, 100, () => (expired = true));
    now = 95; // a clock that moved less than the timer waited
    runs.shift()!();
    expect(expired).toBe(true);
  });
});
