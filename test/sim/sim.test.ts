// npm test's share of the simulator: a few hundred seeds in the quick
// profile (safety phase capped at 5 s of virtual time), plus determinism.
// SIM_FROM / SIM_SEEDS pick other seeds; `npm run sim` runs many more.
import { describe, expect, it } from 'vitest';
import { runSeed, type RunOptions } from './cluster';
import { failureReport } from './report';

const from = Number(process.env.SIM_FROM ?? 1);
const count = Number(process.env.SIM_SEEDS ?? 300);
const quick: RunOptions = { phaseMaxMs: 5_000 };

describe('simulator', () => {
  it(`seeds ${from}..${from + count - 1} keep every invariant and converge after healing`, () => {
    const sizes = new Set<number>();
    for (let seed = from; seed < from + count; seed++) {
      const result = runSeed(seed, quick);
      sizes.add(result.options.nodeCount);
      if (!result.ok) expect.fail(`simulator failure\n${failureReport(result, quick)}`);
    }
    expect([...sizes].sort()).toEqual([1, 2, 3, 4, 5]);
  }, 180_000);

  it('replays a seed exactly: same digest, same history', () => {
    for (const seed of [7, 12345]) {
      const a = runSeed(seed, quick);
      const b = runSeed(seed, quick);
      expect(b.digest).toBe(a.digest);
      expect(b.events).toBe(a.events);
      expect(b.stats).toEqual(a.stats);
    }
  });

  it('different seeds give different runs', () => {
    const digests = new Set([1, 2, 3, 4, 5].map((s) => runSeed(s, quick).digest));
    expect(digests.size).toBe(5);
  });

  it('debug logging does not change the run', () => {
    const a = runSeed(99, quick);
    const b = runSeed(99, { ...quick, logLevel: 'debug' });
    expect(b.digest).toBe(a.digest);
  });
});
