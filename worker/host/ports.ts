// The small interfaces a NodeHost is built from. The Durable Object passes
// the real adapters (worker/adapters/), the simulator and the test harness
// pass simulated ones (test/sim/, test/fixtures/).
import type { Message } from '../raft/messages';
import type { SnapshotPoint } from '../raft/log';
import type { SnapshotChunk } from '../raft/ready';
import type { Membership } from '../raft/membership';
import type { Entry, HardState, Index, Member, NodeId } from '../raft/types';

export type { Scheduler } from './macrotask-batch';

/** The node's monotonic clock, in milliseconds. */
export type Clock = () => number;

/** Where the hard state and the log are stored (reads go to the core through its EntryLoader). */
export interface HostStorage {
  /**
   * Persist a Ready's hard state and entries (ready.ts step 1), replacing any
   * stored suffix from entries[0].index on; atomic: all or nothing. Durable
   * once the runtime releases the event's output.
   */
  save(hardState: HardState | null, entries: readonly Entry[]): void;
  /** Whether storing `hardState` would change the stored term or vote, rather than only the commit index. */
  changesTermOrVote(hardState: HardState | null): boolean;
  /** Log compaction (§7): delete stored entries up to `point.index`; remember the point and its term. */
  compact(point: SnapshotPoint, membership: Membership): void;
  /**
   * A snapshot at `point` was installed (§7): keep the stored entries after
   * it if `keepLog`, else delete them all; either way entries up to it go.
   */
  installSnapshot(point: SnapshotPoint, keepLog: boolean, membership: Membership): void;
  /**
   * Run `work` (the state machine's flush and the log write that follows it)
   * as one transaction, all or nothing, so that they cost one transaction
   * rather than one each. Storage without transactions of its own omits it.
   */
  atomically?(work: () => void): void;
}

/**
 * How busy the way to a peer is: nothing in flight ("idle"), some in flight
 * but room for more ("free"), or every slot taken so messages wait ("full").
 */
export type PeerLoad = 'idle' | 'free' | 'full';

export interface HostTransport {
  /** Fire and forget: Raft retries what is lost (§5.1). Replies come back through NodeHost.deliver. */
  send(messages: readonly Message[]): void;
  load(peer: NodeId): PeerLoad;
  /** The members to reach changed (a new configuration, thesis §4.1): every member but this node. */
  setPeers(peers: readonly Member[]): void;
}

/** Named deadlines; setting a name again moves it. */
export interface HostTimers {
  set(name: string, at: number, fire: () => void): void;
  clear(name: string): void;
}

/** A consistent copy of the state machine as of `index`, read chunk by chunk. */
export interface SnapshotReader {
  readonly index: Index;
  /** Chunk `n` (from 0) of at most `maxBytes` of data; `done` on the last. */
  chunk(n: number, maxBytes: number): { data: string; done: boolean };
  /** No follower needs it any more: free what it holds (a copy of the state, for a durable machine). */
  close?(): void;
}

/** What the log drives: applies committed entries in order, answers reads. Deterministic. */
export interface HostStateMachine<Result, Query, Answer> {
  /** Apply one committed entry; `noop` and `config` entries return null. */
  apply(entry: Entry): Result | null;
  /**
   * Write the effects of the entries applied since the last call, with the
   * applied index, all or nothing (a machine that keeps its state on disk).
   * The host calls it just before its next log write, so both share one
   * durable write, and before a snapshot is taken or the log compacted; an
   * idle node calls it at its next tick. Until then reads see the applied
   * state from memory, and a restart applies those entries again from the log.
   */
  flushApplied?(): void;
  /** Answer a read from the state as applied so far. */
  query(query: Query): Answer;
  /** Answer several reads at once, in order (optional: one lookup for all, where that is cheaper than one each). */
  queryMany?(queries: readonly Query[]): Answer[];
  /**
   * The state as of the last applied entry, which stays readable while later
   * entries are applied (a copy, or copy-on-write), until the next call.
   */
  openSnapshot(): SnapshotReader;
  /** Keep a chunk of an incoming snapshot (chunk 0 starts a new one). */
  stageSnapshot(chunk: SnapshotChunk): void;
  /** Replace the whole state with the staged snapshot, now complete, at `point`. */
  installSnapshot(point: SnapshotPoint): void;
  /**
   * The log up to `point` is about to be compacted: make sure the state as of
   * at least `point` survives a restart. (A state machine that writes its
   * state durably as it applies has nothing to do.)
   */
  checkpoint(point: SnapshotPoint): void;
}
