// What one node counts about itself, from inside its Durable Object: the host
// tells it about each Ready, each message received, each request's outcome and
// each storage write, and it keeps Prometheus counters and histograms, the
// last minute per second (recent.ts), recent elections and leader changes,
// and when each peer was last heard from. Pure: the caller passes the time.
import type { NodeStatus } from '../raft/node';
import { allMembers, type Membership } from '../raft/membership';
import type { Message } from '../raft/messages';
import type { Ready } from '../raft/ready';
import type { Member, NodeId, Role, Term } from '../raft/types';
import { exponentialBuckets, Registry, type MetricFamily } from './registry';
import { RecentRequests, type RecentPoint } from './recent';

export type RequestOutcome = 'ok' | 'notLeader' | 'timeout';

/** One election or leadership change seen by this node. */
export interface NodeEvent {
  at: number;
  node: NodeId;
  term: Term;
  /** campaign: started an election; preCampaign: started a pre-vote; leader: learned of (or became) a leader; leaderLost: no known leader. */
  kind: 'preCampaign' | 'campaign' | 'leader' | 'leaderLost';
  leader: NodeId | null;
}

/** What the dashboard reads from a node besides its status. */
export interface NodeView {
  /** This node and its peers: the other members of the configuration in force. */
  self: Member;
  peers: Member[];
  recent: RecentPoint[];
  events: NodeEvent[];
  /** Per peer: ms since a message from it arrived, or null if none has since start. */
  lastHeardMs: Record<NodeId, number | null>;
  /** Bytes of the node's SQLite database (its log, state and KV data). */
  storageBytes: number | null;
  /** The latest stored snapshot: the last index it covers and its size; null when there is none. */
  snapshot: SnapshotSize | null;
}

export interface SnapshotSize {
  index: number;
  bytes: number;
}

/** Sizes the host reads from storage when asked for metrics. */
export interface StorageSizes {
  logEntries: number;
  logBytes: number;
  databaseBytes: number;
  /** Bytes of the latest stored snapshot (0: none). */
  snapshotBytes: number;
}

const roles: readonly Role[] = ['follower', 'precandidate', 'candidate', 'leader'];
const outcomes: readonly RequestOutcome[] = ['ok', 'notLeader', 'timeout'];
const maxEvents = 100;

/** Request latencies: 0.5 ms to about 8 s. */
const latencyBuckets = exponentialBuckets(0.0005, 2, 15);
/** Storage writes until durable: 0.1 ms to about 3 s. */
const storageBuckets = exponentialBuckets(0.0001, 2, 16);

export class NodeMetrics {
  private readonly reg = new Registry();
  private readonly leaderChanges = this.reg.counter(
    'raftkv_leader_changes_total',
    'Times this node learned of a new leader (itself included).',
  );
  private readonly elections = this.reg.counter(
    'raftkv_elections_started_total',
    'Elections this node started; kind="pre_vote" counts pre-vote rounds (thesis 9.6).',
    ['kind'],
  );
  private readonly proposals = this.reg.counter('raftkv_proposals_total', 'Writes answered by this node, by outcome.', ['outcome']);
  private readonly reads = this.reg.counter('raftkv_reads_total', 'Linearizable reads answered by this node, by outcome.', ['outcome']);
  private readonly writeSeconds = this.reg.histogram(
    'raftkv_write_duration_seconds',
    'Time from a write reaching the node to its answer, every outcome.',
    latencyBuckets,
  );
  private readonly readSeconds = this.reg.histogram(
    'raftkv_read_duration_seconds',
    'Time from a read reaching the node to its answer, every outcome.',
    latencyBuckets,
  );
  private readonly appendSent = this.reg.counter(
    'raftkv_append_entries_sent_total',
    'AppendEntries messages (heartbeats included) sent, per peer.',
    ['peer'],
  );
  private readonly appendRejected = this.reg.counter(
    'raftkv_append_entries_rejected_total',
    'AppendEntries a peer answered with success=false (log mismatch), per peer.',
    ['peer'],
  );
  private readonly bytesSent = this.reg.counter(
    'raftkv_peer_sent_bytes_total',
    'Bytes of message batches sent, per peer (POST bodies and stream frames).',
    ['peer'],
  );
  private readonly batchesSent = this.reg.counter('raftkv_peer_sent_batches_total', 'POSTs or stream frames sent, per peer.', ['peer']);
  private readonly storageSeconds = this.reg.histogram(
    'raftkv_storage_write_duration_seconds',
    'Time from a log or state write to its being durable (sampled: one write measured at a time).',
    storageBuckets,
  );
  private readonly term = this.reg.gauge('raftkv_term', 'Current term.');
  private readonly role = this.reg.gauge('raftkv_role', '1 for the role this node has now, 0 for the others.', ['role']);
  private readonly commitIndex = this.reg.gauge('raftkv_commit_index', 'Highest log index known committed.');
  private readonly appliedIndex = this.reg.gauge('raftkv_applied_index', 'Highest log index applied to the key-value store.');
  private readonly lastLogIndex = this.reg.gauge('raftkv_last_log_index', 'Index of the last entry in the log.');
  private readonly logEntries = this.reg.gauge('raftkv_log_entries', 'Entries stored in the log.');
  private readonly logBytes = this.reg.gauge('raftkv_log_bytes', 'Bytes of entry payloads stored in the log.');
  private readonly dbBytes = this.reg.gauge('raftkv_storage_bytes', "Bytes of the node's SQLite database.");
  private readonly compactions = this.reg.counter(
    'raftkv_log_compactions_total',
    'Times this node took a snapshot and compacted its log (section 7).',
  );
  private readonly idleCollections = this.reg.counter(
    'raftkv_idle_collections_total',
    'Full garbage collections this node ran when it fell quiet after a burst of work (needs --expose-gc).',
  );
  private readonly snapshotsInstalled = this.reg.counter(
    'raftkv_snapshots_installed_total',
    'Snapshots this node installed from a leader (section 7).',
  );
  private readonly snapshotChunksSent = this.reg.counter('raftkv_snapshot_chunks_sent_total', 'InstallSnapshot chunks sent, per peer.', [
    'peer',
  ]);
  private readonly snapshotIndex = this.reg.gauge('raftkv_snapshot_index', 'Last log index the latest snapshot covers (0: none).');
  private readonly snapshotBytes = this.reg.gauge('raftkv_snapshot_bytes', 'Bytes of the latest stored snapshot (0: none).');
  private readonly firstLogIndex = this.reg.gauge('raftkv_first_log_index', 'Oldest entry still in the log; older ones are compacted.');
  private readonly peerMatch = this.reg.gauge('raftkv_peer_match_index', 'On the leader: highest index known replicated on each peer.', [
    'peer',
  ]);

  private readonly recent = new RecentRequests();
  private readonly events: NodeEvent[] = [];
  private readonly lastHeard = new Map<NodeId, number>();
  private currentLeader: NodeId | null = null;
  private currentTerm: Term;

  private readonly self: NodeId;
  private peerMembers: Member[] = [];
  private peers: NodeId[] = [];
  private readonly perPeer = [
    this.appendSent,
    this.appendRejected,
    this.snapshotChunksSent,
    this.bytesSent,
    this.batchesSent,
    this.peerMatch,
  ];

  /** `members`: the configuration in force at start (the stored one after a restart); onReady follows its changes. */
  constructor(
    private readonly selfMember: Member,
    members: Membership,
    term: Term,
  ) {
    this.self = selfMember.id;
    this.currentTerm = term;
    for (const kind of ['pre_vote', 'vote']) this.elections.touch({ kind });
    for (const outcome of outcomes) {
      this.proposals.touch({ outcome });
      this.reads.touch({ outcome });
    }
    this.follow(members);
    this.writeSeconds.touch();
    this.readSeconds.touch();
    this.storageSeconds.touch();
    this.idleCollections.touch();
  }

  /** Every Ready the host carries out: elections, leader and term changes, and what it sends. */
  onReady(ready: Ready, now: number): void {
    let preVote = false;
    for (const m of ready.messages) {
      if (m.type === 'append') this.appendSent.inc({ peer: m.to });
      else if (m.type === 'snapshot') this.snapshotChunksSent.inc({ peer: m.to });
      else if (m.type === 'vote' && m.pre) preVote = true;
    }
    // Told from what the step did rather than from the role it ended in: a node
    // with no peers campaigns and wins in one step, and never reports a candidate.
    if (preVote) {
      this.elections.inc({ kind: 'pre_vote' });
      this.note(now, 'preCampaign', null);
    }
    const hard = ready.hardState;
    if (hard !== null) {
      // Only a campaign moves to a new term voting for itself (§5.2).
      const campaigned = hard.term > this.currentTerm && hard.vote === this.self;
      this.currentTerm = hard.term;
      if (campaigned) {
        this.elections.inc({ kind: 'vote' });
        this.note(now, 'campaign', null);
      }
    }
    if (ready.membership !== null) this.follow(ready.membership.membership);
    if (ready.compacted !== null) this.compactions.inc();
    if (ready.installSnapshot !== null) this.snapshotsInstalled.inc();
    const soft = ready.softState;
    if (soft === null) return;
    const leader = soft.leader?.id ?? null;
    if (leader !== this.currentLeader) {
      this.currentLeader = leader;
      if (leader !== null) this.leaderChanges.inc();
      this.note(now, leader === null ? 'leaderLost' : 'leader', leader);
    }
  }

  /** Messages that arrived from peers (requests or replies), before they are stepped. */
  onReceived(messages: readonly Message[], now: number): void {
    for (const m of messages) {
      this.lastHeard.set(m.from, now);
      if (m.type === 'appendResp' && !m.success) this.appendRejected.inc({ peer: m.from });
    }
  }

  onSent(peer: NodeId, bytes: number): void {
    this.bytesSent.inc({ peer }, bytes);
    this.batchesSent.inc({ peer });
  }

  // The last minute keeps only requests this node served as leader, so the
  // dashboard can add up every member's without counting a redirect twice.
  onWriteOutcome(outcome: RequestOutcome, ms: number, now: number): void {
    this.proposals.inc({ outcome });
    this.writeSeconds.observe(ms / 1000);
    if (outcome !== 'notLeader') this.recent.record('write', ms, now);
  }

  onReadOutcome(outcome: RequestOutcome, ms: number, now: number): void {
    this.reads.inc({ outcome });
    this.readSeconds.observe(ms / 1000);
    if (outcome !== 'notLeader') this.recent.record('read', ms, now);
  }

  onIdleCollect(): void {
    this.idleCollections.inc();
  }

  onStorageWrite(ms: number): void {
    this.storageSeconds.observe(ms / 1000);
  }

  /** The Prometheus families, with the gauges read from the node's status and storage now. */
  collect(status: NodeStatus, sizes: StorageSizes): MetricFamily[] {
    this.term.set(status.term);
    for (const r of roles) this.role.set(r === status.role ? 1 : 0, { role: r });
    this.commitIndex.set(status.commitIndex);
    this.appliedIndex.set(status.appliedIndex);
    this.lastLogIndex.set(status.lastLogIndex);
    this.logEntries.set(sizes.logEntries);
    this.logBytes.set(sizes.logBytes);
    this.dbBytes.set(sizes.databaseBytes);
    this.snapshotIndex.set(status.snapshotIndex);
    this.snapshotBytes.set(sizes.snapshotBytes);
    this.firstLogIndex.set(status.firstLogIndex);
    // Only a leader tracks its peers' progress; elsewhere the series would be stale.
    for (const peer of this.peers) {
      const p = status.peers.find((x) => x.id === peer);
      this.peerMatch.set(status.role === 'leader' && p !== undefined ? p.matchIndex : 0, { peer });
    }
    return this.reg.collect();
  }

  view(now: number, storageBytes: number | null, snapshot: SnapshotSize | null): NodeView {
    const lastHeardMs: Record<NodeId, number | null> = {};
    for (const peer of this.peers) {
      const at = this.lastHeard.get(peer);
      lastHeardMs[peer] = at === undefined ? null : Math.max(0, now - at);
    }
    return {
      self: this.selfMember,
      peers: this.peerMembers.slice(),
      recent: this.recent.series(now),
      events: this.events.slice(),
      lastHeardMs,
      storageBytes,
      snapshot,
    };
  }

  /**
   * Per-peer series and the dashboard's peer list follow the configuration
   * (thesis §4.1): an added member shows at 0 at once, a removed one's series
   * go, rather than a removed node lingering as forever unreachable.
   */
  private follow(m: Membership): void {
    const next = allMembers(m).filter((p) => p.id !== this.self);
    const ids = new Set(next.map((p) => p.id));
    for (const gone of this.peers.filter((p) => !ids.has(p))) {
      for (const metric of this.perPeer) metric.forget('peer', gone);
      this.lastHeard.delete(gone);
    }
    this.peerMembers = next;
    this.peers = next.map((p) => p.id);
    for (const peer of this.peers) {
      this.appendSent.touch({ peer });
      this.appendRejected.touch({ peer });
      this.snapshotChunksSent.touch({ peer });
      this.bytesSent.touch({ peer });
      this.batchesSent.touch({ peer });
    }
  }

  private note(at: number, kind: NodeEvent['kind'], leader: NodeId | null): void {
    this.events.push({ at, node: this.self, term: this.currentTerm, kind, leader });
    if (this.events.length > maxEvents) this.events.shift();
  }
}
