// Proof that the checkers can fail (issue 2): plant a host-level bug, scan
// seeds until the simulator reports it, and check the same seed passes
// without the bug. Seeds are scanned, not hard-coded, so a change to the core
// or the simulator that shifts every run does not leave a stale lucky seed.
import { describe, expect, it } from 'vitest';
import { runSeed, type RunResult } from './cluster';
import type { ViolationKind } from './checkers/violation';
import type { Plant } from './plants';
import { tuneForPlant } from './swarm';

const SCAN = 200;
const quick = { phaseMaxMs: 5_000 };

function firstCatch(plant: Plant): RunResult | null {
  for (let seed = 1; seed <= SCAN; seed++) {
    const r = runSeed(seed, { ...quick, plant });
    if (!r.ok) return r;
  }
  return null;
}

const cases: [Plant, ViolationKind[], string][] = [
  ['staleReads', ['linearizability'], 'a leader answering reads without ReadIndex'],
  [
    'forgetVote',
    ['electionSafety', 'logMatching', 'leaderCompleteness', 'stateMachineSafety', 'committedLost'],
    'a node forgetting its vote on restart',
  ],
  ['lostWrites', ['committedLost', 'leaderCompleteness', 'stateMachineSafety', 'logMatching'], 'a crash losing acknowledged entries'],
  [
    'unwrittenHeld',
    ['stateMachineSafety', 'committedLost', 'leaderCompleteness', 'logMatching'],
    'a leader committing entries it sent but has not written yet',
  ],
  [
    'holdEveryWrite',
    ['host', 'electionSafety', 'committedLost', 'stateMachineSafety', 'leaderCompleteness'],
    'votes and acknowledgements sent before they are written',
  ],
];

describe('planted bugs are caught', () => {
  for (const [plant, kinds, what] of cases) {
    it(`${plant}: ${what}`, () => {
      const caught = firstCatch(plant);
      expect(caught, `no violation in ${SCAN} seeds with plant ${plant}`).not.toBeNull();
      const r = caught as RunResult;
      expect(kinds, `seed ${r.seed}: ${r.violation?.kind}: ${r.violation?.message}`).toContain(r.violation?.kind);
      expect(r.stats.plantFired).toBeGreaterThan(0);
      // The same seed without the plant (same tuning) passes: the plant caused the failure.
      const clean = runSeed(r.seed, { ...quick, plant: null, tune: (o) => tuneForPlant(o, plant) });
      expect(clean.ok, clean.violation?.message).toBe(true);
    }, 120_000);
  }
});
