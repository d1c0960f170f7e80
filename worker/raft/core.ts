// The mutable state of one Raft node and its role transitions. Handlers in
// election.ts and replication.ts change it; node.ts turns the changes of one
// step into a Ready. Nothing here performs I/O or reads a clock.
import type { RaftConfig } from './config';
import type { Logger } from './logger';
import type { Message } from './messages';
import { Progress } from './progress';
import { ReadIndexQueue, type PendingRead } from './read-index';
import { emptyReady, type FailureReason, type Ready } from './ready';
import { RaftLog } from './log';
import type { Entry, EntryKind, HardState, Index, Member, NodeId, Role, Term } from './types';
import { allMembers, decodeMembership, MembershipLog, type Membership } from './membership';

export class Core {
  readonly id: NodeId;
  /** Every member of the configuration in force, this node included if it is one. */
  readonly members = new Map<NodeId, Member>();
  /** The voters of the configuration in force (thesis §4.1: it takes effect when appended). */
  readonly voterIds = new Set<NodeId>();
  readonly membership: MembershipLog;
  /** Leader: a leadership transfer in progress (thesis §3.10). */
  transfer: { target: NodeId; ref: number; deadline: number; sent: boolean } | null = null;

  term: Term;
  vote: NodeId | null;
  commit: Index;
  /** Highest index handed to the host for applying. Invariant: handedOut <= commit. */
  handedOut: Index = 0;

  role: Role = 'follower';
  leader: Member | null = null;
  /** Follower: when we last heard from a current leader (for the vote lease, thesis §4.2.3). */
  lastLeaderContact: number | null = null;

  electionDeadline = 0;
  heartbeatDeadline = Infinity;
  quorumCheckAt = Infinity;

  votes = new Map<NodeId, boolean>();
  /**
   * The current (or last) pre-vote round, sent with each pre-vote request and
   * echoed by grants. Never goes back, and starts from the clock, so rounds of
   * an earlier incarnation of this node are behind it too.
   */
  preVoteRound = 0;
  progress = new Map<NodeId, Progress>();
  /** Leader: index of the no-op that opened this term. */
  termStart: Index = 0;
  readonly reads = new ReadIndexQueue();
  /** Reads confirmed by a quorum round, waiting for commit to reach their index. */
  confirmedReads: PendingRead[] = [];

  /** Follower: the snapshot being received (§7), and the chunk it wants next. Volatile: a restart starts over. */
  incoming: { from: NodeId; index: Index; lastTerm: Term; next: number } | null = null;

  /** Output of the step in progress. */
  out: Ready = emptyReady(0);
  /** Lowest log index changed in this step (Infinity: none). */
  persistFrom = Infinity;

  constructor(
    readonly cfg: RaftConfig,
    readonly log: RaftLog,
    hard: HardState,
    readonly random: () => number,
    readonly logger: Logger,
    now: number,
    applied: Index = 0,
    base: { index: Index; membership: Membership | null } = { index: 0, membership: null },
    configEntries: readonly Entry[] = [],
  ) {
    this.id = cfg.self.id;
    const bootstrap: Membership = cfg.join ? { voters: [], learners: [] } : { voters: [cfg.self, ...cfg.peers], learners: [] };
    this.membership = new MembershipLog({ index: base.index, membership: base.membership ?? bootstrap }, configEntries);
    this.refreshMembers();
    this.term = hard.term;
    this.vote = hard.vote;
    // A persisted commit beyond the persisted log cannot be trusted as ours to apply;
    // what the state machine already reflects was committed (and is not handed out again).
    this.handedOut = applied;
    this.commit = Math.max(Math.min(hard.commit, log.lastIndex), applied);
    if (applied > 0) log.release(applied);
    this.resetElectionTimer(now);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  send(msg: Message): void {
    this.out.messages.push(msg);
  }

  resetElectionTimer(now: number): void {
    const t = this.cfg.electionTimeoutMs;
    this.electionDeadline = now + t + Math.floor(this.random() * t);
  }

  /** Append a new entry of our current term (leader). */
  appendEntry(kind: EntryKind, data: string): Entry {
    return this.pushEntry({ index: this.log.lastIndex + 1, term: this.term, kind, data });
  }

  /** Append an entry as given (a follower copying the leader's log). */
  pushEntry(entry: Entry): Entry {
    this.log.append(entry);
    this.persistFrom = Math.min(this.persistFrom, entry.index);
    if (entry.kind === 'config') {
      // §4.1: a configuration is in force from the moment it is in the log.
      this.membership.append(entry.index, decodeMembership(entry.data));
      this.membershipChanged();
    }
    return entry;
  }

  get voterCount(): number {
    return this.voterIds.size;
  }

  isVoter(id: NodeId): boolean {
    return this.voterIds.has(id);
  }

  /** The configuration in force changed: members, and the leader's view of its followers, follow it. */
  membershipChanged(): void {
    this.refreshMembers();
    const m = this.membership.current;
    this.out.membership = { index: this.membership.currentIndex, membership: m };
    if (this.role !== 'leader') return;
    for (const member of allMembers(m)) {
      if (member.id !== this.id && !this.progress.has(member.id)) this.progress.set(member.id, new Progress(member, this.log.lastIndex));
    }
    for (const id of [...this.progress.keys()]) if (!this.members.has(id)) this.progress.delete(id);
    if (this.transfer !== null && !this.isVoter(this.transfer.target))
      this.endTransfer(false, `${this.transfer.target} is no longer a voter`);
  }

  private refreshMembers(): void {
    const m = this.membership.current;
    this.members.clear();
    this.voterIds.clear();
    for (const v of m.voters) {
      this.members.set(v.id, v);
      this.voterIds.add(v.id);
    }
    for (const l of m.learners) this.members.set(l.id, l);
  }

  /** A leadership transfer ends: reported to whoever asked (Ready.adminResults). */
  endTransfer(ok: boolean, reason: string): void {
    const t = this.transfer;
    if (t === null) return;
    this.transfer = null;
    this.out.adminResults.push(ok ? { ref: t.ref, ok: true } : { ref: t.ref, ok: false, reason });
  }

  truncateFrom(index: Index): void {
    // §5.3 / Leader Completeness: committed entries are never overwritten.
    if (index <= this.commit) {
      this.logger.log('error', 'refusing to truncate committed entries', { node: this.id, index, commit: this.commit });
      throw new Error(`invariant: truncating at ${index} <= commit ${this.commit}`);
    }
    this.log.truncateFrom(index);
    this.persistFrom = Math.min(this.persistFrom, index);
    if (this.membership.truncateFrom(index)) this.membershipChanged();
  }

  becomeFollower(term: Term, leader: Member | null, now: number): void {
    const wasLeader = this.role === 'leader';
    const newerTerm = term > this.term;
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = 'follower';
    this.leader = leader;
    this.progress.clear();
    this.votes.clear();
    this.heartbeatDeadline = Infinity;
    this.quorumCheckAt = Infinity;
    if (wasLeader) this.failReads('leadershipLost');
    // A transfer ends when we step down: done if the target now leads or took a newer term.
    if (this.transfer !== null) this.endTransfer(newerTerm, 'this node stepped down');
    this.resetElectionTimer(now);
  }

  /** §5.2: start an election in the next term (or, for pre-vote, ask whether we could win one). */
  becomeCandidate(pre: boolean, now: number): void {
    this.role = pre ? 'precandidate' : 'candidate';
    this.leader = null;
    this.lastLeaderContact = null;
    if (!pre) {
      this.term += 1;
      this.vote = this.id;
    }
    this.votes.clear();
    this.votes.set(this.id, true);
    this.resetElectionTimer(now);
  }

  becomeLeader(now: number): void {
    this.role = 'leader';
    this.leader = this.cfg.self;
    this.votes.clear();
    this.progress.clear();
    for (const p of allMembers(this.membership.current)) if (p.id !== this.id) this.progress.set(p.id, new Progress(p, this.log.lastIndex));
    this.transfer = null;
    this.reads.reset();
    this.confirmedReads = [];
    // §5.4.2 / thesis §6.4: an entry of our own term, so earlier entries can commit
    // and ReadIndex has a commit index it can trust.
    this.termStart = this.appendEntry('noop', '').index;
    this.heartbeatDeadline = now; // announce ourselves at once
    this.quorumCheckAt = now + this.cfg.electionTimeoutMs;
    this.electionDeadline = Infinity;
  }

  failReads(reason: FailureReason): void {
    for (const r of [...this.reads.drain(), ...this.confirmedReads]) {
      this.out.failed.push({ ref: r.ref, kind: 'read', reason, leader: this.leader });
    }
    this.confirmedReads = [];
  }

  logInfo(msg: string, fields?: Record<string, unknown>): void {
    this.logger.log('info', msg, { node: this.id, term: this.term, role: this.role, ...fields });
  }
}
