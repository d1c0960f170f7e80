import { describe, expect, it } from 'vitest';
import { MacrotaskBatch } from './macrotask-batch';

describe('MacrotaskBatch', () => {
  it('flushes what arrived together once, oldest first, in the next macrotask', async () => {
    const flushed: number[][] = [];
    const batch = new MacrotaskBatch<number>((items) => flushed.push(items));
    batch.add(1);
    batch.add(2);
    expect(batch.size).toBe(2);
    expect(flushed).toEqual([]);
    await new Promise((r) => setTimeout(r, 0));
    expect(flushed).toEqual([[1, 2]]);
    expect(batch.size).toBe(0);
    batch.add(3);
    await new Promise((r) => setTimeout(r, 0));
    expect(flushed).toEqual([[1, 2], [3]]);
  });

  it('take hands out what waits at once, and the scheduled flush then has nothing to do', () => {
    const scheduled: (() => void)[] = [];
    const flushed: string[][] = [];
    const batch = new MacrotaskBatch<string>(
      (items) => flushed.push(items),
      (run) => scheduled.push(run),
    );
    batch.add('a');
    batch.add('b');
    expect(scheduled).toHaveLength(1); // one flush per batch
    expect(batch.take()).toEqual(['a', 'b']);
    expect(batch.take()).toEqual([]);
    scheduled[0]!();
    expect(flushed).toEqual([]);
    batch.add('c'); // a new batch schedules its own flush
    expect(scheduled).toHaveLength(2);
    scheduled[1]!();
    expect(flushed).toEqual([['c']]);
  });
});
