// Majority arithmetic (§5.2, §5.3). Every function takes the full voter count,
// including this node, so even-sized clusters get it right (2 of 4 is not a
// majority).
import type { Index } from './types';

export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** The highest index that a majority of `matchIndexes` (one per voter) has reached. */
export function majorityIndex(matchIndexes: Index[]): Index {
  const sorted = matchIndexes.slice().sort((a, b) => b - a);
  return sorted[quorumSize(matchIndexes.length) - 1] ?? 0;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** `granted` and `rejected` count votes including this node's own. */
export function voteResult(voters: number, granted: number, rejected: number): VoteResult {
  const q = quorumSize(voters);
  if (granted >= q) return 'won';
  if (rejected > voters - q) return 'lost';
  return 'pending';
}
