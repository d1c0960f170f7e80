// What the core asks its host to do after each step. Carry out in this order:
//   1. persist: if `hardState` is set, store it; if `snapshotChunk` is set,
//      stage it; if `installSnapshot` is set, replace the state machine with
//      the staged snapshot and the stored log as it says (§7); if `compacted`
//      is set, delete stored entries up to it; if `entries` is non-empty,
//      delete every stored entry with index >= entries[0].index, then store
//      `entries` (a follower overwriting a conflicting suffix, §5.3). All of
//      it atomically.
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
//   7. for each of `snapshotSends`, read that chunk of a snapshot and pass it
//      to `sendSnapshot` (soon, in a call of its own).
import type { Membership } from './membership';
import type { Entry, HardState, Index, Member, NodeId, SoftState, Term } from './types';
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

/** A chunk of an incoming snapshot to stage until the last one arrives (§7). */
export interface SnapshotChunk {
  from: NodeId;
  index: Index;
  lastTerm: Term;
  chunk: number;
  data: string;
}

/**
 * The leader asks the host for chunk `chunk` of a snapshot for `to`: of the
 * snapshot at `index` (term `lastTerm`) already being sent, or, when `index`
 * is null, of a new one taken now.
 */
export interface SnapshotSend {
  to: NodeId;
  index: Index | null;
  lastTerm: Term | null;
  chunk: number;
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
  snapshotChunk: SnapshotChunk | null;
  /** Replace the state machine with the staged snapshot at this point, and the log as `keepLog` says (§7). */
  installSnapshot: { index: Index; term: Term; keepLog: boolean; membership: Membership } | null;
  /** Stored entries up to this point may be deleted (log compaction, §7); store the configuration then in force with it. */
  compacted: { index: Index; term: Term; membership: Membership } | null;
  snapshotSends: SnapshotSend[];
  /** The configuration in force changed in this step (thesis §4.1): the host updates who it can reach. */
  membership: { index: Index; membership: Membership } | null;
  /** Outcomes of membership changes refused up front and of leadership transfers (thesis §3.10). */
  adminResults: AdminResult[];
}

export type AdminResult = { ref: number; ok: true } | { ref: number; ok: false; reason: string };

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
    snapshotChunk: null,
    installSnapshot: null,
    compacted: null,
    snapshotSends: [],
    membership: null,
    adminResults: [],
  };
}
