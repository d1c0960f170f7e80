import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from './deadline-queue';
import type { HostTimers } from './ports';

/** One named timer, fired by hand; records when it was armed. */
function setup() {
  let now = 0;
  const armed: number[] = [];
  let timer: { at: number; fire: () => void } | null = null;
  const timers: HostTimers = {
    set: (name, at, fire) => {
      expect(name).toBe('requests');
      armed.push(at);
      timer = { at, fire };
    },
    clear: () => {
      timer = null;
    },
  };
  const waiting = new Set<number>();
  const expired: number[] = [];
  const queue = new DeadlineQueue(
    timers,
    'requests',
    () => now,
    (ref) => waiting.has(ref),
    (ref) => {
      expired.push(ref);
      waiting.delete(ref);
      queue.settled();
    },
  );
  const add = (ref: number, at: number) => {
    waiting.add(ref);
    queue.add(ref, at);
  };
  const answer = (ref: number) => {
    waiting.delete(ref);
    queue.settled();
  };
  /** Move the clock to the armed time and fire, as the alarm would. */
  const fire = () => {
    const t = timer!;
    timer = null;
    now = Math.max(now, t.at);
    t.fire();
  };
  return { queue, add, answer, fire, armed, expired, setNow: (t: number) => (now = t), hasTimer: () => timer !== null };
}

describe('DeadlineQueue', () => {
  it('arms one timer for the oldest deadline and expires what is due, oldest first', () => {
    const q = setup();
    q.add(1, 100);
    q.add(2, 100);
    q.add(3, 150);
    expect(q.armed).toEqual([100]);
    q.fire();
    expect(q.expired).toEqual([1, 2]);
    // Re-armed for the next one still waiting.
    expect(q.armed).toEqual([100, 150]);
    q.fire();
    expect(q.expired).toEqual([1, 2, 3]);
    expect(q.queue.size).toBe(0);
  });

  it('never expires an answered request, and drops answered ones from the front', () => {
    const q = setup();
    q.add(1, 100);
    q.add(2, 110);
    q.add(3, 120);
    q.answer(2);
    expect(q.queue.size).toBe(3); // 2 is behind 1, which still waits
    q.answer(1);
    expect(q.queue.size).toBe(1);
    // The timer armed for 1 fires early, finds nothing due, and re-arms for 3.
    q.fire();
    expect(q.expired).toEqual([]);
    expect(q.armed).toEqual([100, 120]);
    q.fire();
    expect(q.expired).toEqual([3]);
  });

  it('arms again when a request comes after the queue emptied', () => {
    const q = setup();
    q.add(1, 100);
    q.answer(1);
    expect(q.queue.size).toBe(0);
    q.setNow(50);
    q.add(2, 150);
    expect(q.armed).toEqual([100, 150]);
  });

  it('keeps deadlines in order if the clock steps back', () => {
    const q = setup();
    q.add(1, 200);
    q.add(2, 190);
    q.fire();
    expect(q.expired).toEqual([1, 2]);
  });

  it('holds about the requests in flight under a steady stream', () => {
    const q = setup();
    for (let ref = 1; ref <= 10_000; ref++) {
      q.add(ref, ref + 1000);
      if (ref > 8) q.answer(ref - 8);
    }
    expect(q.queue.size).toBe(8);
    expect(q.expired).toEqual([]);
  });
});
