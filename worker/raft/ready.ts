// What the core asks its host to do after each step. Carry out in this order:
//   1. persist: if `hardState` is set, store it; if `entries` is non-empty,
//      delete every stored entry with index >= entries[0].index, then store
//      `entries` (a follower overwriting a conflicting suffix, §5.3).
//   2. send `messages` (only after step 1 is durable).
//   3. note `proposed` (which index/term each proposal got), then apply
//      `committed` to the state machine, in order. Note first: in a
//      one-node cluster a proposal commits in the very Ready that reports it.
//   4. serve `reads` (their index is <= the last committed entry handed out,
//      so after step 3 the state machine is recent enough).
//   5. report `failed` to whoever is waiting.
//   6. arrange to call `tick(now)` no later than `deadline`; if
//      `moreCommitted` is set, call `tick(now)` again right away (or soon):
//      committed entries are handed out in bounded batches.
import type { Entry, HardState, Index, Member, SoftState, Term } from './types';
import type { Message } from './messages';

/** A proposal accepted into the leader's log; it succeeds if and only if an entry with this index AND term is applied. */
export interface Proposed {
  ref: number;
  index: Index;
  term: Term;
}

/** A ReadIndex read that is now safe: serve it once entries up to `index` are applied (thesis §6.4). */
export interface ReadReady {
  ref: number;
  index: Index;
}

export type FailureReason =
  /** This node is not the leader; `leader` is the node it believes is, if any. */
  | 'notLeader'
  /** The node stopped being leader before a read could be confirmed. */
  | 'leadershipLost';

export interface Failed {
  ref: number;
  kind: 'propose' | 'read';
  reason: FailureReason;
  leader: Member | null;
}

export interface Ready {
  hardState: HardState | null;
  entries: Entry[];
  messages: Message[];
  /** Committed entries to apply, in order: at most the configured batch (maxCommittedEntriesPerReady, ...). */
  committed: Entry[];
  /** More committed entries wait than `committed` holds: call tick(now) again to receive them. */
  moreCommitted: boolean;
  reads: ReadReady[];
  proposed: Proposed[];
  failed: Failed[];
  /** Set when role or leader changed during the step. */
  softState: SoftState | null;
  /** Absolute time (same clock as `now`) by which tick() must be called. */
  deadline: number;
}

export function emptyReady(deadline: number): Ready {
  return {
    hardState: null,
    entries: [],
    messages: [],
    committed: [],
    moreCommitted: false,
    reads: [],
    proposed: [],
    failed: [],
    softState: null,
    deadline,
  };
}
