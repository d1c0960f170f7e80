// A short fault-injection run against a real 3-node cluster (see
// test/faults/): partitions, crashes and pauses for about 35 s, then the
// liveness and linearizability checks. FAULTS_SEED=n replays a schedule.
import { describe, expect, it } from 'vitest';
import { defaultOptions, killEverything, randomSeed, runFaults } from '../faults/run-faults';

const seedFromEnv = process.env.FAULTS_SEED;
const seed = seedFromEnv !== undefined && seedFromEnv !== '' ? Number(seedFromEnv) : randomSeed();

describe('fault injection (real processes, partitions, crashes, pauses)', () => {
  it(
    'stays linearizable and recovers after 35 s of faults',
    async () => {
      let result;
      try {
        result = await runFaults(
          { ...defaultOptions, seed, timeSec: 35, nodes: 3, clients: 5, keys: 4, nodeBasePort: 19100, proxyBasePort: 19200 },
          (line) => process.stdout.write(`${line}\n`),
        );
      } finally {
        killEverything(); // no-op when the run stopped its cluster itself
      }
      const why = result.ok ? '' : `fault run failed (seed ${result.seed}, run folder ${result.runDir}); replay: ${result.replay}\n${result.failures.join('\n')}`;
      expect(result.ok, why).toBe(true);
    },
    240_000,
  );
});
