// The typed surface the Durable Object (worker/node/node-object.ts) offers to the
// HTTP layer (worker/api/) over Durable Object RPC. Expected outcomes are
// tagged results; only bugs throw.
import type { Message } from './raft/messages';
import type { NodeStatus } from './raft/node';
import type { KvRequest, KvResult } from './kv/commands';
import type { AdminOutcome, ReadOutcome as HostReadOutcome, WriteOutcome as HostWriteOutcome } from './host/pending-requests';
import type { MembershipChange } from './raft/membership';
import type { MetricFamily } from './metrics/registry';
import type { NodeView } from './metrics/node-metrics';

export type { AdminOutcome, NotLeader, TimedOut } from './host/pending-requests';
export type { MembershipChange } from './raft/membership';

export type WriteOutcome = HostWriteOutcome<KvResult>;
export type ReadOutcome = HostReadOutcome<string | null>;

/** How many requests of this Worker isolate shared each call into the node (worker/front/coalesce.ts). */
export interface CoalescingStats {
  writes: { requests: number; batches: number };
  reads: { requests: number; batches: number };
}

/**
 * What GET /status answers: the node's status; with PEER_STREAMS on, how it
 * sends to each peer now ("open": over the peer's WebSocket, "post": as
 * POSTs); with COALESCE_REQUESTS on, the coalescing counts.
 */
export type StatusReport = NodeStatus & { streams?: Record<string, 'open' | 'post'>; coalesced?: CoalescingStats };

export interface NodeApi {
  /** Replicate a write through the log and wait for it to be applied. */
  write(req: KvRequest): Promise<WriteOutcome>;
  /** Linearizable read through ReadIndex (thesis §6.4). */
  read(key: string): Promise<ReadOutcome>;
  /** Deliver peer messages (already authenticated); returns the replies addressed to the sender. */
  receive(messages: Message[]): Promise<Message[]>;
  status(): Promise<StatusReport>;
  /**
   * A membership change (thesis §4.1): answered once its config entry is
   * applied here, refused with the core's reason, or notLeader / timeout.
   */
  changeMembership(change: MembershipChange): Promise<AdminOutcome>;
  /** Hand leadership to voter `id` (thesis §3.10): answered once this node stepped down for it, or with why not. */
  transferLeadership(id: string): Promise<AdminOutcome>;
  /** The node's metric families for GET /metrics (worker/metrics/node-metrics.ts). */
  metrics(): Promise<MetricFamily[]>;
  /** What the dashboard shows besides the status: members, the last minute of requests, elections. */
  view(): Promise<NodeView>;
  /**
   * A peer's WebSocket upgrade (GET /raft/stream, already authenticated): the
   * node accepts the socket itself and answers 101 (adapters/peer-streams.ts).
   */
  fetch(request: Request): Promise<Response>;
}
