// The messages Raft nodes exchange. Every message carries the sender's term;
// replies echo enough of the request they answer that a late, duplicated or
// reordered reply is still interpreted correctly.
import type { Membership } from './membership';
import type { Entry, Index, NodeId, Term } from './types';

interface Envelope {
  from: NodeId;
  to: NodeId;
  term: Term;
}

/** RequestVote (§5.2), or a pre-vote (thesis §9.6) when `pre` is true. For a pre-vote, `term` is the term the sender would campaign in; nobody adopts it. */
export interface VoteRequest extends Envelope {
  type: 'vote';
  pre: boolean;
  /** Sent on the leader's TimeoutNow (thesis §3.10): voters grant even while they hear from that leader. */
  transfer: boolean;
  lastLogIndex: Index;
  lastLogTerm: Term;
  /**
   * For a pre-vote: which of the sender's pre-vote rounds this belongs to. The
   * term does not change between pre-vote rounds, so only this tells a late
   * grant from an earlier round apart from a current one. 0 for a real vote.
   */
  round: number;
}

export interface VoteResponse extends Envelope {
  type: 'voteResp';
  pre: boolean;
  granted: boolean;
  /** Echo of the request's round. */
  round: number;
}

/** AppendEntries (§5.3). Also the heartbeat (no entries) and the ReadIndex confirmation round (`round`). */
export interface AppendRequest extends Envelope {
  type: 'append';
  /** The leader's advertised URL, so followers can redirect clients to it. */
  leaderUrl: string;
  prevLogIndex: Index;
  prevLogTerm: Term;
  entries: Entry[];
  commit: Index;
  /** Leader's heartbeat round when sent (thesis §6.4); echoed in the response. */
  round: number;
}

export interface AppendResponse extends Envelope {
  type: 'appendResp';
  success: boolean;
  /** Echo of the request's prevLogIndex. */
  prevLogIndex: Index;
  /** On success: the highest index known to match the leader's log (prevLogIndex + entries.length). */
  matchIndex: Index;
  /** Echo of the request's round. */
  round: number;
  /**
   * On rejection, hints for fast backoff: the follower's last index, and the
   * term and first index of that term at the conflicting position, if any.
   */
  lastIndex: Index;
  conflictTerm: Term;
  conflictIndex: Index;
}

/**
 * InstallSnapshot (§7), one chunk of it: the leader's state machine as of
 * `index` (whose term is `lastTerm`), cut in chunks numbered from 0; `done`
 * marks the last. Chunks go one at a time, each answered.
 */
export interface SnapshotRequest extends Envelope {
  type: 'snapshot';
  leaderUrl: string;
  index: Index;
  lastTerm: Term;
  chunk: number;
  data: string;
  done: boolean;
  /** The configuration in force at `index` (thesis §4.1: a snapshot carries it). */
  membership: Membership;
}

export interface SnapshotResponse extends Envelope {
  type: 'snapshotResp';
  /** Echo of the snapshot's index and term. */
  index: Index;
  lastTerm: Term;
  /** The chunk the follower wants next (0: start over). */
  nextChunk: number;
  /** The snapshot is installed (or the follower already had everything it covers); `matchIndex` is where the logs now match. */
  installed: boolean;
  matchIndex: Index;
}

/** Leadership transfer (thesis §3.10): the leader tells an up-to-date voter to campaign at once. */
export interface TimeoutNow extends Envelope {
  type: 'timeoutNow';
}

export type Message = VoteRequest | VoteResponse | AppendRequest | AppendResponse | SnapshotRequest | SnapshotResponse | TimeoutNow;
export type MessageType = Message['type'];
