// The one loop that carries out the core's Readies. The Durable Object, the
// simulator and the core's test harness all build this same host, each with
// its own parts (ports.ts): real SQLite, alarms and sockets in the object;
// a simulated disk, network and clock in the simulator. So every fault the
// simulator injects meets the code that runs in production.
//
// Each Ready is carried out in the order ready.ts documents: persist, send,
// apply, serve reads, report failures, arm the deadline. Every call into the
// core is followed, synchronously, by the storage writes it asks for; the
// runtime (the Durable Object's output gate, or the simulator's) holds
// messages and replies until those writes are durable. One exception: a
// leader's new entries are written one macrotask after their AppendEntries
// leave, and before the next core call (held-writes.ts).
import type { Message } from '../raft/messages';
import type { NodeStatus, RaftNode } from '../raft/node';
import type { Ready } from '../raft/ready';
import type { Entry, Index, Member, NodeId, Role, Term } from '../raft/types';
import { mayWriteAfterSending } from './held-writes';
import { SnapshotSender } from './snapshot-sender';
import type { AdminOutcome } from './pending-requests';
import { allMembers, type Membership, type MembershipChange } from '../raft/membership';
import type { HostOptions, ReadRequest, ReplyCapture, WriteRequest } from './host-options';
import { Requests } from './requests';
import { StorageWrites } from './storage-writes';
import { Compaction } from './compaction';

const tickTimer = 'tick';

/** The loop every node runs: Readies carried out in order, and the requests waiting on them. */
export class NodeHost<Result, Query, Answer> {
  private stopped = false;
  private applied: Index = 0;
  private currentRole: Role = 'follower';
  private currentLeader: Member | null = null;
  private currentTerm: Term;
  private readonly self: NodeId;
  /**
   * The other members of the configuration in force (thesis §4.1), for group
   * commit and reads; membership changes and installed snapshots move it.
   */
  private peers: readonly Member[] = [];
  /** Whether another voter must confirm this node's reads (with none, the core confirms them in the call that asks). */
  private otherVoters = false;
  /** A tick to fetch the next batch of committed entries is scheduled (Ready.moreCommitted). */
  private moreScheduled = false;
  /** When to checkpoint the state machine and compact the log, and how far (compaction.ts). */
  private readonly compaction: Compaction;
  /** Every storage write: a Ready's, a leader's held back, the machine's applied effects (storage-writes.ts). */
  private readonly writes: StorageWrites;
  /** The snapshot followers are being sent, shared by all of them while it stays usable. */
  private readonly snapshots: SnapshotSender;
  /** Client writes and reads, membership changes and transfers, waiting for their outcome (requests.ts). */
  private readonly requests: Requests<Result, Query, Answer>;

  constructor(private readonly o: HostOptions<Result, Query, Answer>) {
    const status = o.core.status(o.clock());
    this.currentTerm = status.term;
    this.self = status.id;
    this.followMembership(o.core.membership());
    this.applied = status.appliedIndex;
    this.requests = new Requests({
      ...o,
      peers: () => this.peers,
      otherVoters: () => this.otherVoters,
      running: () => !this.stopped,
      run: (call) => this.run(call),
    });
    this.writes = new StorageWrites({
      ...o,
      running: () => !this.stopped,
      guard: (work) => this.guard(work),
      installed: (index) => {
        this.applied = index;
        this.compaction.at = index;
        this.snapshots.drop();
      },
    });
    this.snapshots = new SnapshotSender({
      core: o.core,
      clock: o.clock,
      chunkBytes: o.snapshotChunkBytes,
      open: () => {
        this.writes.effects.flush();
        return o.machine.openSnapshot();
      },
      run: (call) => this.run(call),
      guard: (work) => this.guard(work),
    });
    this.compaction = new Compaction(
      {
        ...o,
        applied: () => this.applied,
        limit: () => this.snapshots.compactionLimit(),
        effects: this.writes.effects,
        later: (work) => this.schedule(work),
        run: (call) => this.run(call),
        guard: (work) => this.guard(work),
      },
      status.firstLogIndex - 1,
    );
  }

  get role(): Role {
    return this.currentRole;
  }

  get leader(): Member | null {
    return this.currentLeader;
  }

  get appliedIndex(): Index {
    return this.applied;
  }

  /** The core, for status and tests; every event still goes through the host. */
  get core(): RaftNode {
    return this.o.core;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Requests waiting for an answer. */
  get pendingRequests(): number {
    return this.requests.size;
  }

  /**
   * The first Readies: they hand out the committed log to replay into the
   * state machine, in bounded batches, all before start() returns, so no
   * request sees a half-loaded node.
   */
  start(): void {
    let ready = this.run((core, now) => core.tick(now));
    while (ready.moreCommitted && !this.stopped) {
      this.moreScheduled = false;
      ready = this.run((core, now) => core.tick(now));
    }
  }

  /**
   * Stop without answering anyone (a crash, or the owner going away). Writes
   * held back are dropped: they were never acknowledged.
   */
  stop(): void {
    this.stopped = true;
    this.writes.dropHeld();
    this.requests.drop();
  }

  /** Writes to replicate; each reply comes once its entry is applied, or with why not. */
  propose(writes: readonly WriteRequest<Result>[]): void {
    this.requests.propose(writes);
  }

  /** A membership change (thesis §4.1); the reply comes once its entry is applied, or with why not. */
  changeMembership(change: MembershipChange, reply: (o: AdminOutcome) => void): void {
    this.requests.changeMembership(change, reply);
  }

  /** Leadership transfer (thesis §3.10); the reply comes once this node stepped down for the new leader, or with why not. */
  transferLeadership(target: NodeId, reply: (o: AdminOutcome) => void): void {
    this.requests.transferLeadership(target, reply);
  }

  /** The other members the host currently works with (tests). */
  get peerIds(): NodeId[] {
    return this.peers.map((p) => p.id);
  }

  /** Linearizable reads (thesis §6.4): reads that arrive together share one ReadIndex round. */
  read(reads: readonly ReadRequest<Query, Answer>[]): void {
    this.requests.read(reads);
  }

  /**
   * Messages a peer sent us. Returns the replies addressed to their senders,
   * to ride back on the request that brought them (a POST's answer, a frame's
   * reply); everything else goes out through the transport.
   */
  receive(messages: readonly Message[]): Message[] {
    const self = this.self;
    const capture: ReplyCapture = { to: new Set(messages.map((m) => m.from)), out: [] };
    for (const m of messages) {
      if (this.stopped) break;
      if (m.to !== self) {
        this.o.logger.log('warn', 'dropped a message addressed to another node', { from: m.from, to: m.to, type: m.type });
        continue;
      }
      this.logReceived(m);
      this.run((core, now) => core.step(m, now), capture);
    }
    return capture.out;
  }

  /** Replies that came back from a peer over the transport. */
  deliver(replies: readonly Message[]): void {
    for (const m of replies) {
      if (this.stopped) return;
      this.logReceived(m);
      this.run((core, now) => core.step(m, now));
    }
  }

  status(): NodeStatus {
    return this.o.core.status(this.o.clock());
  }

  /**
   * One synchronous core call, then its Ready carried out in full; returns
   * that Ready. Exported for the core's lock-step test harness; everything
   * else goes through the methods above.
   */
  run(call: (core: RaftNode, now: number) => Ready, capture?: ReplyCapture): Ready {
    if (this.stopped) throw new Error('node host is stopped');
    return this.guard(() => {
      // The core counts held entries as stored: make it so before it decides anything else.
      this.writeHeld();
      const ready = call(this.o.core, this.o.clock());
      this.carry(ready, capture);
      return ready;
    });
  }

  /**
   * Write what a leader held back. Protected so the simulator can plant the
   * bug of skipping it (the core would then act on entries not yet stored).
   */
  protected writeHeld(): void {
    this.writes.writeHeld();
  }

  /**
   * Whether this Ready's write may wait until after its messages leave
   * (held-writes.ts). Protected so the simulator can plant the bug of holding
   * writes that must come first (votes, a follower's entries).
   */
  protected mayHold(ready: Ready): boolean {
    const changesTermOrVote = this.o.storage.changesTermOrVote(ready.hardState);
    return this.o.holdLeaderWrites && mayWriteAfterSending(ready, this.currentRole, changesTermOrVote);
  }

  /** Writes held back now (for a planted bug's bookkeeping). */
  protected get heldWriteCount(): number {
    return this.writes.heldCount;
  }

  private carry(ready: Ready, capture?: ReplyCapture): void {
    const o = this.o;
    // 1. Persist before anything depends on it (§5.1, thesis §3.8).
    if (this.mayHold(ready)) {
      // Written one macrotask from now, after this Ready's messages have left.
      this.writes.hold(ready);
    } else {
      this.writeHeld();
      this.writes.persist(ready);
    }
    const wasLeader = this.currentRole === 'leader';
    this.noteStateChanges(ready);
    // A member added in this step may already be addressed by its messages, and one removed
    // may still be: the transport knows both until they have left, then only the members.
    const membershipChanged = ready.membership !== null;
    if (ready.membership !== null) {
      const before = this.peers;
      this.followMembership(ready.membership.membership);
      o.transport.setPeers([...this.peers, ...before.filter((p) => !this.peers.some((q) => q.id === p.id))]);
    }
    // 2. Send; replies to the peer we are answering ride back on its request.
    if (capture) {
      const out: Message[] = [];
      for (const m of ready.messages) (capture.to.has(m.to) ? capture.out : out).push(m);
      if (out.length > 0) o.transport.send(out);
    } else if (ready.messages.length > 0) {
      o.transport.send(ready.messages);
    }
    if (membershipChanged) o.transport.setPeers(this.peers);
    // 3. Apply. Proposals are noted first so the apply loop can answer them;
    //    with no peers, a proposal commits in the very Ready that reports it.
    this.requests.proposed(ready.proposed, this.applied);
    for (const entry of ready.committed) this.apply(entry);
    this.writes.effects.applied(ready.committed.length);
    // 4. Serve reads whose index is now applied (thesis §6.4).
    this.requests.serveReads(ready.reads, this.applied, ready.committed.length > 0);
    // 5. Report failures, and unknown outcomes when leadership is lost.
    this.requests.settle(ready.failed, ready.adminResults);
    if (wasLeader && this.currentRole !== 'leader') this.requests.leadershipLost();
    // 6. Make sure tick() runs by the deadline, and soon if more committed entries wait.
    if (!Number.isFinite(ready.deadline)) throw new Error(`core returned deadline ${ready.deadline}`);
    o.timers.set(tickTimer, ready.deadline, () =>
      this.whileRunning(() => {
        if (this.writes.effects.due()) this.guard(() => this.writes.effects.flush());
        this.run((core, now) => core.tick(now));
      }),
    );
    if (ready.moreCommitted && !this.moreScheduled) {
      this.moreScheduled = true;
      o.schedule(() =>
        this.whileRunning(() => {
          this.moreScheduled = false;
          this.run((core, now) => core.tick(now));
        }),
      );
    }
    for (const send of ready.snapshotSends) this.schedule(() => this.snapshots.send(send, this.compaction.at));
    this.compaction.maybeCompact();
    if (ready.snapshotSends.length === 0) this.snapshots.release();
    o.afterReady?.(ready);
  }

  private followMembership(m: Membership): void {
    this.peers = allMembers(m).filter((p) => p.id !== this.self);
    this.otherVoters = m.voters.some((v) => v.id !== this.self);
  }

  /** Work for the next macrotask, dropped if the host stops first. */
  private schedule(work: () => void): void {
    this.o.schedule(() => this.whileRunning(work));
  }

  private apply(entry: Entry): void {
    if (entry.index !== this.applied + 1) {
      throw new Error(`committed entry ${entry.index} handed out after applied index ${this.applied}`);
    }
    const result = this.o.machine.apply(entry);
    this.applied = entry.index;
    this.requests.applied(entry, result);
  }

  /** Keep role, leader and term current, and log what the core does not (it logs role changes itself). */
  private noteStateChanges(ready: Ready): void {
    const soft = ready.softState;
    if (soft !== null) {
      if (soft.role === this.currentRole) this.o.logger.log('info', 'leader changed', { leader: soft.leader?.id ?? null });
      this.currentRole = soft.role;
      this.currentLeader = soft.leader;
      if (this.o.logContext) this.o.logContext.role = soft.role;
    }
    const hard = ready.hardState;
    if (hard !== null && hard.term !== this.currentTerm) {
      this.currentTerm = hard.term;
      if (this.o.logContext) this.o.logContext.term = hard.term;
      this.o.logger.log('info', 'term changed', { vote: hard.vote });
    }
  }

  private logReceived(m: Message): void {
    const logger = this.o.logger;
    if (logger.enabled?.('debug') !== false) logger.log('debug', 'recv', { from: m.from, type: m.type, msgTerm: m.term });
  }

  /** Runs scheduled work unless the host stopped meanwhile (the work then belongs to no one). */
  private whileRunning(work: () => void): void {
    if (!this.stopped) work();
  }

  /**
   * A throw from the core, the state machine or storage leaves memory possibly
   * ahead of what is stored; continuing could break safety. Stop, and let the
   * owner restart from storage.
   */
  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      if (!this.stopped) {
        this.o.logger.log('error', 'invariant broken; stopping the node', {
          err: String(err),
          stack: err instanceof Error ? err.stack : undefined,
        });
        this.stop();
        this.o.fatal(err);
      }
      throw err;
    }
  }
}
