import { describe, expect, it } from 'vitest';
import { Clock, EventLimitExceeded } from './clock';

describe('Clock', () => {
  it('runs events in time order, ties in scheduling order', () => {
    const c = new Clock();
    const seen: string[] = [];
    c.after(10, () => seen.push('b'));
    c.after(5, () => seen.push('a'));
    c.after(10, () => seen.push('c'));
    c.after(0, () => seen.push('first'));
    c.runUntil(100);
    expect(seen).toEqual(['first', 'a', 'b', 'c']);
    expect(c.now).toBe(100);
  });

  it('events scheduled while running, at the same instant, run after those already queued', () => {
    const c = new Clock();
    const seen: number[] = [];
    c.after(1, () => {
      seen.push(1);
      c.after(0, () => seen.push(3));
    });
    c.after(1, () => seen.push(2));
    c.runUntil(1);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('never schedules into the past', () => {
    const c = new Clock();
    c.runUntil(50);
    let at = -1;
    c.at(10, () => (at = c.now));
    c.runUntil(60);
    expect(at).toBe(50);
  });

  it('stops at the limit and leaves later events queued', () => {
    const c = new Clock();
    let ran = 0;
    for (let i = 1; i <= 10; i++) c.after(i * 10, () => ran++);
    c.runUntil(45);
    expect(ran).toBe(4);
    expect(c.pending).toBe(6);
    expect(c.peekTime()).toBe(50);
  });

  it('keeps order through many random insertions (heap check)', () => {
    const c = new Clock();
    const times: number[] = [];
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const t = x % 1000;
      c.after(t, () => times.push(c.now));
    }
    c.runUntil(1000);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('throws EventLimitExceeded on a loop', () => {
    const c = new Clock();
    c.eventLimit = 100;
    const loop = (): void => c.after(0, loop);
    loop();
    expect(() => c.runUntil(10)).toThrow(EventLimitExceeded);
  });
});
