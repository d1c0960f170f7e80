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
import type { NodeStatus, Proposal, RaftNode } from '../raft/node';
import type { Ready } from '../raft/ready';
import type { Entry, Index, Member, NodeId, Role, Term } from '../raft/types';
import { mayWriteAfterSending, type HeldWrite } from './held-writes';
import { MacrotaskBatch } from './macrotask-batch';
import { AdminRequests } from './admin-requests';
import { SnapshotSender } from './snapshot-sender';
import { PendingRequests, type AdminOutcome } from './pending-requests';
import { allMembers, type Membership, type MembershipChange } from '../raft/membership';
import { UnflushedEffects } from './applied-effects';
import type { HostOptions, ReadRequest, ReplyCapture, WriteRequest } from './host-options';

const tickTimer = 'tick';
/** The timer that holds a waiting request's deadline. */
export const requestTimer = (ref: number): string => `request:${ref}`;

/** The loop every node runs: Readies carried out in order, and the requests waiting on them. */
export class NodeHost<Result, Query, Answer> {
  private stopped = false;
  private nextRef = 1;
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
  /** Where the log was last compacted (or a snapshot installed); a compaction is scheduled. */
  private compactedAt: Index;
  private compactionScheduled = false;
  /** Applied entries whose effects the machine has not written yet (applied-effects.ts). */
  private readonly effects: UnflushedEffects;
  /** Membership changes and transfers waiting for their outcome; `at` once a change is in the log. */
  private readonly admin: AdminRequests;
  /** The snapshot followers are being sent, shared by all of them while it stays usable. */
  private readonly snapshots: SnapshotSender;
  private readonly pending: PendingRequests<Result, Query, Answer>;
  /**
   * Group commit: writes arriving together are proposed together, one macrotask
   * later, so they share one durable write and one AppendEntries per peer
   * instead of one of each per write.
   */
  private readonly proposals: MacrotaskBatch<Proposal>;
  /**
   * A node with no peers confirms a read in the very call that asks for it, so
   * each read would be answered within the event that brought it and, under
   * saturation, the runtime keeps serving the connections whose next request
   * is already in. Answering from a macrotask, as writes are, lets every waiting
   * request in first. With peers, the heartbeat round does the same.
   */
  private readonly soloReads: MacrotaskBatch<number>;
  /** A leader's own log writes, held back until its AppendEntries are on their way. */
  private readonly heldWrites: MacrotaskBatch<HeldWrite>;

  constructor(private readonly o: HostOptions<Result, Query, Answer>) {
    const status = o.core.status(o.clock());
    this.effects = new UnflushedEffects(o.clock, () => o.machine.flushApplied?.());
    this.currentTerm = status.term;
    this.self = status.id;
    this.followMembership(o.core.membership());
    this.compactedAt = status.firstLogIndex - 1;
    this.applied = status.appliedIndex;
    this.pending = new PendingRequests(
      (ref) => o.timers.clear(requestTimer(ref)),
      (msg, fields) => o.logger.log('error', msg, fields),
    );
    this.admin = new AdminRequests((ref) => o.timers.clear(requestTimer(ref)));
    this.proposals = new MacrotaskBatch(
      (batch) => this.whileRunning(() => this.run((core, now) => core.proposeBatch(batch, now))),
      o.schedule,
    );
    this.soloReads = new MacrotaskBatch((refs) => this.whileRunning(() => this.run((core, now) => core.readBatch(refs, now))), o.schedule);
    this.heldWrites = new MacrotaskBatch((writes) => this.whileRunning(() => this.guard(() => this.saveAll(writes))), o.schedule);
    this.snapshots = new SnapshotSender({
      core: o.core,
      clock: o.clock,
      chunkBytes: o.snapshotChunkBytes,
      open: () => {
        this.effects.flush();
        return o.machine.openSnapshot();
      },
      run: (call) => this.run(call),
      guard: (work) => this.guard(work),
    });
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
    return this.pending.size;
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
    this.heldWrites.take();
    this.proposals.take();
    this.soloReads.take();
  }

  /** Writes to replicate; each reply comes once its entry is applied, or with why not. */
  propose(writes: readonly WriteRequest<Result>[]): void {
    if (writes.length === 0) return;
    const batch: Proposal[] = [];
    for (const w of writes) {
      const ref = this.nextRef++;
      this.pending.addWrite(ref, w.reply);
      this.armDeadline(ref);
      batch.push({ ref, data: w.data });
    }
    if (this.proposals.size === 0 && this.proposeAtOnce()) {
      this.run((core, now) => core.proposeBatch(batch, now));
    } else {
      for (const p of batch) this.proposals.add(p);
    }
  }

  /** A membership change (thesis §4.1); the reply comes once its entry is applied, or with why not. */
  changeMembership(change: MembershipChange, reply: (o: AdminOutcome) => void): void {
    const ref = this.adminRequest(reply);
    this.run((core, now) => core.proposeChange(ref, change, now));
  }

  /** Leadership transfer (thesis §3.10); the reply comes once this node stepped down for the new leader, or with why not. */
  transferLeadership(target: NodeId, reply: (o: AdminOutcome) => void): void {
    const ref = this.adminRequest(reply);
    this.run((core, now) => core.transferLeadership(ref, target, now));
  }

  private adminRequest(reply: (o: AdminOutcome) => void): number {
    const ref = this.nextRef++;
    this.admin.add(ref, reply);
    this.o.timers.set(requestTimer(ref), this.o.clock() + this.o.requestTimeoutMs, () => this.admin.expire(ref));
    return ref;
  }

  /** The other members the host currently works with (tests). */
  get peerIds(): NodeId[] {
    return this.peers.map((p) => p.id);
  }

  /** Linearizable reads (thesis §6.4): reads that arrive together share one ReadIndex round. */
  read(reads: readonly ReadRequest<Query, Answer>[]): void {
    if (reads.length === 0) return;
    const refs: number[] = [];
    for (const r of reads) {
      const ref = this.nextRef++;
      this.pending.addRead(ref, r.query, r.reply);
      this.armDeadline(ref);
      refs.push(ref);
    }
    if (this.otherVoters) {
      this.run((core, now) => core.readBatch(refs, now));
    } else {
      for (const ref of refs) this.soloReads.add(ref);
    }
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
    this.saveAll(this.heldWrites.take());
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
    return this.heldWrites.size;
  }

  private carry(ready: Ready, capture?: ReplyCapture): void {
    const o = this.o;
    // 1. Persist before anything depends on it (§5.1, thesis §3.8).
    if (this.mayHold(ready)) {
      // Written one macrotask from now, after this Ready's messages have left.
      this.heldWrites.add({ hardState: ready.hardState, entries: ready.entries });
    } else {
      this.writeHeld();
      // A snapshot replaces the state: what is applied before it is written first, as it stood.
      const flush = this.writesStorage(ready) && (ready.installSnapshot !== null || this.effects.due());
      this.together(flush, () => this.persist(ready, flush));
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
    for (const p of ready.proposed) if (!this.admin.proposed(p)) this.pending.proposed(p, this.applied);
    for (const entry of ready.committed) this.apply(entry);
    this.effects.applied(ready.committed.length);
    // 4. Serve reads whose index is now applied (thesis §6.4).
    const answer = (q: Query): Answer => o.machine.query(q);
    for (const r of ready.reads) this.pending.readReady(r, this.applied, answer);
    if (ready.committed.length > 0) this.pending.serveReads(this.applied, answer);
    // 5. Report failures, and unknown outcomes when leadership is lost.
    for (const f of ready.failed) {
      if (this.admin.has(f.ref)) this.admin.failed(f);
      else this.pending.failed(f);
    }
    for (const r of ready.adminResults) this.admin.result(r);
    if (wasLeader && this.currentRole !== 'leader') {
      this.pending.leadershipLost();
      this.admin.leadershipLost();
    }
    // 6. Make sure tick() runs by the deadline, and soon if more committed entries wait.
    if (!Number.isFinite(ready.deadline)) throw new Error(`core returned deadline ${ready.deadline}`);
    o.timers.set(tickTimer, ready.deadline, () =>
      this.whileRunning(() => {
        if (this.effects.due()) this.guard(() => this.effects.flush());
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
    for (const send of ready.snapshotSends) this.schedule(() => this.snapshots.send(send, this.compactedAt));
    this.maybeCompact();
    if (ready.snapshotSends.length === 0) this.snapshots.release();
    o.afterReady?.(ready);
  }

  private followMembership(m: Membership): void {
    this.peers = allMembers(m).filter((p) => p.id !== this.self);
    this.otherVoters = m.voters.some((v) => v.id !== this.self);
  }

  /** Step 1 of a Ready: everything it asks to store, in one go (atomic in the Durable Object's event). */
  private persist(ready: Ready, flush: boolean): void {
    const { storage, machine } = this.o;
    if (flush) this.effects.flush();
    if (ready.snapshotChunk) machine.stageSnapshot(ready.snapshotChunk);
    const installed = ready.installSnapshot;
    if (installed) {
      const point = { index: installed.index, term: installed.term };
      machine.installSnapshot(point);
      storage.installSnapshot(point, installed.keepLog, installed.membership);
      this.applied = installed.index;
      this.compactedAt = installed.index;
      this.snapshots.drop();
    }
    if (ready.compacted) storage.compact(ready.compacted, ready.compacted.membership);
    storage.save(ready.hardState, ready.entries);
  }

  /** After every `snapshotEvery` applied entries: checkpoint the state machine, then compact the log (§7). */
  private maybeCompact(): void {
    const o = this.o;
    if (this.compactionScheduled || this.applied - this.compactedAt < o.snapshotEvery) return;
    this.compactionScheduled = true;
    this.schedule(() => {
      this.compactionScheduled = false;
      let upTo = this.applied - o.logRetain;
      // Keep the entries a follower being sent a snapshot resumes from, or it would need another one at once.
      const limit = this.snapshots.compactionLimit();
      if (limit !== null) upTo = Math.min(upTo, limit);
      if (upTo <= this.compactedAt) return;
      const term = o.core.termAt(this.applied);
      this.guard(() => {
        this.effects.flush();
        o.machine.checkpoint({ index: this.applied, term });
      });
      this.compactedAt = upTo;
      this.run((core, now) => core.compact(upTo, now));
    });
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
    if (entry.kind === 'config') this.admin.applied(entry);
    else this.pending.applied(entry, result);
  }

  private saveAll(writes: readonly HeldWrite[]): void {
    if (writes.length === 0) return;
    const flush = this.effects.due();
    this.together(flush, () => {
      if (flush) this.effects.flush();
      for (const w of writes) this.o.storage.save(w.hardState, w.entries);
    });
  }

  /** Whether persisting this Ready writes anything (a commit index alone is written lazily, with later writes). */
  private writesStorage(ready: Ready): boolean {
    return (
      ready.entries.length > 0 ||
      ready.snapshotChunk !== null ||
      ready.installSnapshot !== null ||
      ready.compacted !== null ||
      this.o.storage.changesTermOrVote(ready.hardState)
    );
  }

  /** Log writes that carry the machine's applied effects along go out as one transaction (HostStorage.atomically). */
  private together(flush: boolean, work: () => void): void {
    const { storage } = this.o;
    if (flush && this.effects.waiting && storage.atomically !== undefined) storage.atomically(work);
    else work();
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

  /**
   * Whether to propose now rather than one macrotask later. Now when nothing
   * is in flight to any peer: the writes go out at once, for latency. Now also
   * when no peer has a free slot: nothing would leave before a slot frees
   * anyway, so waiting would only cost one more event. Only in between, when a
   * message would leave at once to a peer that is already busy, do the writes
   * wait for the others of the same macrotask, to share its messages.
   */
  private proposeAtOnce(): boolean {
    const { peers } = this;
    const { transport } = this.o;
    if (peers.length === 0) return false;
    const loads = peers.map((p) => transport.load(p.id));
    return loads.every((l) => l === 'idle') || loads.every((l) => l === 'full');
  }

  private armDeadline(ref: number): void {
    this.o.timers.set(requestTimer(ref), this.o.clock() + this.o.requestTimeoutMs, () => this.pending.expire(ref));
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
