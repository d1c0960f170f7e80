import { describe, expect, it } from 'vitest';
import { majorityIndex, quorumSize, voteResult } from './quorum';

describe('quorumSize', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
  ])('%i voters need %i', (n, q) => expect(quorumSize(n)).toBe(q));
});

describe('majorityIndex', () => {
  it.each([
    [[5], 5],
    [[5, 3], 3],
    [[5, 3, 1], 3],
    [[1, 5, 3], 3],
    [[10, 9, 2, 1], 2], // 4 voters: 3 must have it
    [[10, 9, 9, 2, 1], 9],
    // numeric, not lexicographic, ordering (the seed sorted as strings)
    [[9, 10, 100], 10],
    [[2, 10, 100, 3, 1000], 10],
    [[2, 1000, 100, 3, 10, 7, 9], 9],
  ])('%j -> %i', (m, want) => expect(majorityIndex(m)).toBe(want));

  it('matches a naive definition on random inputs', () => {
    let x = 12345;
    const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) % 50;
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + (trial % 7);
      const m = Array.from({ length: n }, rnd);
      // naive: the largest v such that at least a majority have match >= v
      let best = 0;
      for (const v of m) if (m.filter((y) => y >= v).length >= quorumSize(n)) best = Math.max(best, v);
      expect(majorityIndex(m)).toBe(best);
    }
  });
});

describe('voteResult', () => {
  it('needs a strict majority', () => {
    expect(voteResult(4, 2, 0)).toBe('pending');
    expect(voteResult(4, 3, 0)).toBe('won');
    expect(voteResult(4, 2, 2)).toBe('lost');
    expect(voteResult(3, 2, 1)).toBe('won');
    expect(voteResult(3, 1, 2)).toBe('lost');
    expect(voteResult(1, 1, 0)).toBe('won');
    expect(voteResult(5, 2, 2)).toBe('pending');
    expect(voteResult(5, 2, 3)).toBe('lost');
  });
});
