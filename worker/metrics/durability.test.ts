// One storage write is timed at a time, from the write until sync() reports it durable.
import { describe, expect, it } from 'vitest';
import { DurabilitySampler } from './durability';

describe('DurabilitySampler', () => {
  it('times one write at a time and records when sync resolves', async () => {
    let now = 100;
    const syncs: (() => void)[] = [];
    const recorded: number[] = [];
    const s = new DurabilitySampler(
      () => new Promise<void>((r) => syncs.push(r)),
      () => now,
      (ms) => recorded.push(ms),
    );
    s.wrote();
    s.wrote(); // one measurement open: no second sync
    expect(syncs).toHaveLength(1);
    now = 107;
    syncs[0]!();
    await new Promise((r) => setTimeout(r, 0));
    expect(recorded).toEqual([7]);
    s.wrote(); // closed again: the next write is timed
    expect(syncs).toHaveLength(2);
  });

  it('a failed sync records nothing and frees the sampler', async () => {
    let calls = 0;
    const recorded: number[] = [];
    const s = new DurabilitySampler(
      () => (calls++ === 0 ? Promise.reject(new Error('disk')) : new Promise<void>(() => {})),
      () => 0,
      (ms) => recorded.push(ms),
    );
    s.wrote();
    await new Promise((r) => setTimeout(r, 0));
    s.wrote();
    expect(calls).toBe(2);
    expect(recorded).toEqual([]);
  });
});
