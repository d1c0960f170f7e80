// Hand-made histories that break each invariant, and one that keeps them all.
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../worker/raft/types';
import { SafetyChecker } from './safety';
import { SimViolation, type ViolationKind } from './violation';

const e = (index: number, term: number, data = `v${index}.${term}`): Entry => ({ index, term, kind: 'command', data });

function cluster(n = 3) {
  const clock = { now: 0 };
  const safety = new SafetyChecker(clock);
  const disks = new Map<string, { entries: Entry[] }>();
  for (let i = 1; i <= n; i++) {
    const d = { entries: [] as Entry[] };
    disks.set(`n${i}`, d);
    safety.register(`n${i}`, d);
  }
  /** Stores entries the way the host does, with both persist hooks. */
  const persist = (node: string, entries: Entry[], term = 9) => {
    const d = disks.get(node)!;
    safety.beforePersist(node, entries, term);
    d.entries.length = entries[0]!.index - 1;
    d.entries.push(...entries);
    safety.afterPersist(node, entries[0]!.index);
  };
  return { safety, disks, persist, clock };
}

function kindOf(f: () => void): ViolationKind | null {
  try {
    f();
    return null;
  } catch (err) {
    if (err instanceof SimViolation) return err.violation.kind;
    throw err;
  }
}

describe('SafetyChecker', () => {
  it('accepts a normal run: election, replication, commit, new leader', () => {
    const { safety, persist } = cluster();
    safety.onLeader('n1', 1);
    for (const n of ['n1', 'n2', 'n3']) persist(n, [e(1, 1), e(2, 1)]);
    for (const n of ['n1', 'n2']) {
      safety.onApply(n, e(1, 1), 9);
      safety.onApply(n, e(2, 1), 9);
    }
    safety.checkDurable('test');
    safety.onLeader('n2', 2);
    persist('n2', [e(3, 2)]);
    persist('n3', [e(3, 2)]);
    expect(safety.commitIndex).toBe(2);
  });

  it('election safety: two leaders in one term', () => {
    const { safety } = cluster();
    safety.onLeader('n1', 3);
    expect(kindOf(() => safety.onLeader('n2', 3))).toBe('electionSafety');
  });

  it('the same node becoming leader of a term twice is fine', () => {
    const { safety } = cluster();
    safety.onLeader('n1', 3);
    expect(kindOf(() => safety.onLeader('n1', 3))).toBeNull();
  });

  it('log matching: same index and term, different command', () => {
    const { persist } = cluster();
    persist('n1', [e(1, 1, 'a')]);
    expect(kindOf(() => persist('n2', [e(1, 1, 'b')]))).toBe('logMatching');
  });

  it('log matching: same index and term, different history before it', () => {
    const { persist } = cluster();
    persist('n1', [e(1, 1), e(2, 2, 'x')]);
    persist('n2', [e(1, 2)]);
    expect(kindOf(() => persist('n2', [e(2, 2, 'x')]))).toBe('logMatching');
  });

  it('state machine safety: two nodes apply different entries at one index', () => {
    const { safety, persist } = cluster();
    persist('n1', [e(1, 1)]);
    persist('n2', [e(1, 2)]);
    safety.onApply('n1', e(1, 1), 9);
    expect(kindOf(() => safety.onApply('n2', e(1, 2), 9))).toBe('stateMachineSafety');
  });

  it('state machine safety: applying an entry that is not in the node own log', () => {
    const { safety } = cluster();
    expect(kindOf(() => safety.onApply('n1', e(1, 1), 9))).toBe('stateMachineSafety');
  });

  it('leader completeness: a leader of a later term without a committed entry', () => {
    const { safety, persist } = cluster();
    safety.onLeader('n1', 1);
    persist('n1', [e(1, 1)]);
    persist('n2', [e(1, 1)]);
    safety.onApply('n1', e(1, 1), 9);
    expect(kindOf(() => safety.onLeader('n3', 2))).toBe('leaderCompleteness');
  });

  it('leader completeness: a late leader of an older term is not held to newer commits', () => {
    const { safety, persist } = cluster();
    safety.onLeader('n1', 2);
    persist('n1', [e(1, 2)]);
    persist('n2', [e(1, 2)]);
    safety.onApply('n1', e(1, 2), 9);
    // n3 collected its term-1 votes before term 2 began; their replies arrived late.
    expect(kindOf(() => safety.onLeader('n3', 1))).toBeNull();
  });

  it('committed entries are never truncated by a node in a later term', () => {
    const { safety, persist } = cluster();
    safety.onLeader('n1', 1);
    persist('n1', [e(1, 1), e(2, 1)]);
    persist('n2', [e(1, 1), e(2, 1)]);
    safety.onApply('n1', e(1, 1), 9);
    safety.onApply('n1', e(2, 1), 9);
    // Overwriting with identical entries is fine; replacing or dropping a committed one is not.
    expect(kindOf(() => persist('n2', [e(2, 1)], 1))).toBeNull();
    expect(kindOf(() => persist('n2', [e(2, 3)], 3))).toBe('committedLost');
  });

  it('a stale leader may overwrite a committed entry on a lagging node (seed 202916)', () => {
    const { safety, persist } = cluster(5);
    // n1 leads term 3 and commits #2@t1 with n2 and n4 (by committing its own #3@t3).
    safety.onLeader('n1', 3);
    for (const n of ['n1', 'n2', 'n4']) persist(n, [e(1, 1), e(2, 1), e(3, 3)], 3);
    persist('n5', [e(1, 1), e(2, 1)], 1);
    for (const x of [e(1, 1), e(2, 1), e(3, 3)]) safety.onApply('n1', x, 9);
    // n3, a leader of term 2 that never had #2@t1, reaches n5 (still in term 1) and overwrites it.
    expect(kindOf(() => persist('n5', [e(2, 2)], 2))).toBeNull();
    expect(safety.counts.staleOverwrites).toBe(1);
    safety.checkDurable('still on n1, n2, n4');
  });

  it('committed entries stay on a majority of disks', () => {
    const { safety, persist, disks } = cluster();
    persist('n1', [e(1, 1)]);
    persist('n2', [e(1, 1)]);
    safety.onApply('n1', e(1, 1), 9);
    safety.checkDurable('ok');
    disks.get('n2')!.entries.length = 0; // a crash lost an acknowledged write
    expect(kindOf(() => safety.checkDurable('crash'))).toBe('committedLost');
  });

  it('majorities of even clusters: 2 of 4 disks is not enough', () => {
    const { safety, persist } = cluster(4);
    persist('n1', [e(1, 1)]);
    persist('n2', [e(1, 1)]);
    safety.onApply('n1', e(1, 1), 9);
    expect(kindOf(() => safety.checkDurable('even'))).toBe('committedLost');
    persist('n3', [e(1, 1)]);
    expect(kindOf(() => safety.checkDurable('even'))).toBeNull();
  });
});
