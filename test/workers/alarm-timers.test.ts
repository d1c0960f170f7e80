/// <reference types="@cloudflare/vitest-pool-workers/types" />
// Alarm timers (worker/adapters/alarm-timers.ts) over a storage whose setAlarm fails.
import { describe, expect, it } from 'vitest';
import { AlarmTimers, REARM_MIN_MS } from '../../worker/adapters/alarm-timers';

describe('AlarmTimers', () => {
  /** A store whose setAlarm fails for the first `failures` calls; records every call. */
  function flakyStore(failures: number) {
    const calls: number[] = [];
    return {
      calls,
      setAlarm(at: number): Promise<void> {
        calls.push(at);
        return calls.length <= failures ? Promise.reject(new Error('storage unavailable')) : Promise.resolve();
      },
    };
  }
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('arms again after a failed setAlarm, so later deadlines are not trusted to a write that never happened', async () => {
    const store = flakyStore(1);
    const errors: unknown[] = [];
    const timers = new AlarmTimers(store, null, (err) => errors.push(err));
    timers.set('tick', 1000, () => {});
    expect(store.calls).toEqual([1000]);
    await sleep(REARM_MIN_MS * 3);
    expect(errors).toHaveLength(1);
    expect(timers.armFailures).toBe(1);
    expect(store.calls).toEqual([1000, 1000]);
    expect(timers.armedAt).toBe(1000);
    // Now armed for real: a later deadline needs no write, an earlier one does.
    timers.set('later', 2000, () => {});
    timers.set('sooner', 500, () => {});
    expect(store.calls).toEqual([1000, 1000, 500]);
  });

  it('backs off while setAlarm keeps failing instead of retrying in a loop', async () => {
    const store = flakyStore(Infinity);
    const timers = new AlarmTimers(store, null, () => {});
    timers.set('tick', 1000, () => {});
    await sleep(0); // the write has failed and a retry is scheduled
    for (let i = 0; i < 20; i++) timers.set(`t${i}`, 900 - i, () => {}); // these wait for the retry
    expect(store.calls).toEqual([1000]);
    await sleep(REARM_MIN_MS * 8);
    // Pauses of 1, 2, 4 times the minimum fit in the wait: at most four writes in all.
    expect(store.calls.length).toBeGreaterThanOrEqual(3);
    expect(store.calls.length).toBeLessThanOrEqual(4);
    expect(store.calls.slice(1).every((at) => at === 881)).toBe(true);
    expect(timers.armedAt).toBeNull();
  });
});
