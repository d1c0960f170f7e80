// What a NodeHost is built from (node-host.ts): the core, the ports it
// carries Readies out through, and its settings; and the requests it takes.
import type { Logger } from '../raft/logger';
import type { Message } from '../raft/messages';
import type { RaftNode } from '../raft/node';
import type { Ready } from '../raft/ready';
import type { NodeId, Role, Term } from '../raft/types';
import type { ReadOutcome, WriteOutcome } from './pending-requests';
import type { Clock, HostStateMachine, HostStorage, HostTimers, HostTransport, Scheduler } from './ports';

export interface HostOptions<Result, Query, Answer> {
  core: RaftNode;
  storage: HostStorage;
  transport: HostTransport;
  timers: HostTimers;
  /** Runs work in the next macrotask (group commit, held writes, the next batch of committed entries). */
  schedule: Scheduler;
  clock: Clock;
  machine: HostStateMachine<Result, Query, Answer>;
  /** A client request not settled by then is answered `timeout`. */
  requestTimeoutMs: number;
  /** Write a leader's new entries after its AppendEntries leave (held-writes.ts). */
  holdLeaderWrites: boolean;
  logger: Logger;
  /** The logger's context: the host keeps its term and role current. */
  logContext?: { term: Term; role: Role };
  /**
   * A throw from the core, the state machine or storage: a bug or a broken
   * disk. The host has stopped; the owner must not use it again (the Durable
   * Object resets itself and reloads from storage).
   */
  fatal: (err: unknown) => void;
  /** Compact the log after this many entries are applied since the last compaction (§7). */
  snapshotEvery: number;
  /** Keep this many applied entries in the log when compacting, so slightly slow followers catch up from it. */
  logRetain: number;
  /** Largest chunk of a snapshot sent in one message. */
  snapshotChunkBytes: number;
  /** Called after each Ready is carried out (test checkers, metrics). */
  afterReady?: (ready: Ready) => void;
}

export interface WriteRequest<Result> {
  data: string;
  reply: (o: WriteOutcome<Result>) => void;
}

export interface ReadRequest<Query, Answer> {
  query: Query;
  reply: (o: ReadOutcome<Answer>) => void;
}

/** Messages for these peers are returned to the caller instead of going out through the transport. */
export interface ReplyCapture {
  to: ReadonlySet<NodeId>;
  out: Message[];
}
