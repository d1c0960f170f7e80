// The requests a host is waiting to answer: client writes and reads
// (pending-requests.ts), membership changes and leadership transfers
// (admin-requests.ts). Each is numbered and given a deadline here, then handed
// to the core: writes by group commit, reads by ReadIndex. The host passes on
// what each Ready reports about them (where a proposal landed, an applied
// entry, a confirmed read, a failure, leadership lost), in the Ready's order.
import type { Proposal, RaftNode } from '../raft/node';
import type { AdminResult, Failed, Proposed, Ready, ReadReady } from '../raft/ready';
import type { Entry, Index, Member, NodeId } from '../raft/types';
import type { MembershipChange } from '../raft/membership';
import { AdminRequests } from './admin-requests';
import type { HostOptions, ReadRequest, WriteRequest } from './host-options';
import { DeadlineQueue } from './deadline-queue';
import { MacrotaskBatch } from './macrotask-batch';
import { PendingRequests, type AdminOutcome } from './pending-requests';

/** The timer that holds a membership change's or transfer's deadline. */
export const requestTimer = (ref: number): string => `request:${ref}`;
/** The timer of the oldest client request's deadline (deadline-queue.ts). */
export const clientDeadlineTimer = 'requests';

export interface RequestParts<Result, Query, Answer> extends Pick<
  HostOptions<Result, Query, Answer>,
  'timers' | 'clock' | 'schedule' | 'transport' | 'logger' | 'machine' | 'requestTimeoutMs'
> {
  /** The other members of the configuration in force (NodeHost's). */
  peers: () => readonly Member[];
  /** Whether another voter must confirm this node's reads (with none, the core confirms them in the call that asks). */
  otherVoters: () => boolean;
  /** Whether the host still runs: batched work is dropped once it stopped. */
  running: () => boolean;
  /** Runs a call into the core and carries out its Ready (NodeHost.run). */
  run: (call: (core: RaftNode, now: number) => Ready) => void;
}

export class Requests<Result, Query, Answer> {
  private nextRef = 1;
  /** Membership changes and transfers waiting for their outcome; `at` once a change is in the log. */
  private readonly admin: AdminRequests;
  private readonly pending: PendingRequests<Result, Query, Answer>;
  /** Client writes' and reads' deadlines, oldest first, on one timer. */
  private readonly deadlines: DeadlineQueue;
  /**
   * Group commit: writes arriving together are proposed together, one macrotask
   * later, so they share one durable write and one AppendEntries per peer
   * instead of one of each per write.
   */
  private readonly proposals: MacrotaskBatch<Proposal>;
  /**
   * Reads wait here for one macrotask, as writes do, and go to the core
   * together: one ReadIndex round (a heartbeat to each peer) for all of them.
   * Not when nothing is in flight to any peer (the round starts at once, for
   * latency) or when no peer has a free slot (sendAtOnce). A node with no
   * peers always waits: it confirms a read in the very call that asks, so under
   * saturation the runtime would keep serving the connections whose next
   * request is already in; the macrotask lets every waiting request in first.
   */
  private readonly readBatch: MacrotaskBatch<number>;

  constructor(private readonly p: RequestParts<Result, Query, Answer>) {
    this.pending = new PendingRequests(
      () => this.deadlines.settled(),
      (msg, fields) => p.logger.log('error', msg, fields),
    );
    this.deadlines = new DeadlineQueue(
      p.timers,
      clientDeadlineTimer,
      p.clock,
      (ref) => this.pending.waiting(ref),
      (ref) => this.pending.expire(ref),
    );
    this.admin = new AdminRequests((ref) => p.timers.clear(requestTimer(ref)));
    this.proposals = new MacrotaskBatch(
      (batch) => this.whileRunning(() => p.run((core, now) => core.proposeBatch(batch, now))),
      p.schedule,
    );
    this.readBatch = new MacrotaskBatch((refs) => this.whileRunning(() => p.run((core, now) => core.readBatch(refs, now))), p.schedule);
  }

  /** Client requests waiting for an answer. */
  get size(): number {
    return this.pending.size;
  }

  propose(writes: readonly WriteRequest<Result>[]): void {
    if (writes.length === 0) return;
    const batch: Proposal[] = [];
    for (const w of writes) {
      const ref = this.nextRef++;
      this.pending.addWrite(ref, w.reply);
      this.deadlines.add(ref, this.deadline());
      batch.push({ ref, data: w.data });
    }
    if (this.proposals.size === 0 && this.sendAtOnce()) {
      this.p.run((core, now) => core.proposeBatch(batch, now));
    } else {
      for (const p of batch) this.proposals.add(p);
    }
  }

  read(reads: readonly ReadRequest<Query, Answer>[]): void {
    if (reads.length === 0) return;
    const refs: number[] = [];
    for (const r of reads) {
      const ref = this.nextRef++;
      this.pending.addRead(ref, r.query, r.reply);
      this.deadlines.add(ref, this.deadline());
      refs.push(ref);
    }
    if (this.p.otherVoters() && this.readBatch.size === 0 && this.sendAtOnce()) {
      this.p.run((core, now) => core.readBatch(refs, now));
    } else {
      for (const ref of refs) this.readBatch.add(ref);
    }
  }

  changeMembership(change: MembershipChange, reply: (o: AdminOutcome) => void): void {
    const ref = this.adminRequest(reply);
    this.p.run((core, now) => core.proposeChange(ref, change, now));
  }

  transferLeadership(target: NodeId, reply: (o: AdminOutcome) => void): void {
    const ref = this.adminRequest(reply);
    this.p.run((core, now) => core.transferLeadership(ref, target, now));
  }

  /** The host stopped: writes and reads waiting for the next macrotask are dropped, never proposed. */
  drop(): void {
    this.proposals.take();
    this.readBatch.take();
  }

  /** Ready step 3, before its entries are applied: where each proposal landed. */
  proposed(proposed: readonly Proposed[], applied: Index): void {
    for (const p of proposed) if (!this.admin.proposed(p)) this.pending.proposed(p, applied);
  }

  /** An entry was applied: a config entry may settle a membership change, any other a write. */
  applied(entry: Entry, result: Result | null): void {
    if (entry.kind === 'config') this.admin.applied(entry);
    else this.pending.applied(entry, result);
  }

  /** Ready step 4: reads confirmed in this Ready, then, if entries were applied, those now caught up. */
  serveReads(reads: readonly ReadReady[], applied: Index, appliedMore: boolean): void {
    const { machine } = this.p;
    this.pending.serveReads(reads, applied, appliedMore, (queries) =>
      machine.queryMany !== undefined ? machine.queryMany(queries) : queries.map((q) => machine.query(q)),
    );
  }

  /** Ready step 5: the requests that failed, and the transfers the core decided. */
  settle(failed: readonly Failed[], adminResults: readonly AdminResult[]): void {
    for (const f of failed) {
      if (this.admin.has(f.ref)) this.admin.failed(f);
      else this.pending.failed(f);
    }
    for (const r of adminResults) this.admin.result(r);
  }

  /** This node stopped leading: what it proposed may or may not commit, so it is answered timeout. */
  leadershipLost(): void {
    this.pending.leadershipLost();
    this.admin.leadershipLost();
  }

  private adminRequest(reply: (o: AdminOutcome) => void): number {
    const ref = this.nextRef++;
    this.admin.add(ref, reply);
    this.p.timers.set(requestTimer(ref), this.deadline(), () => this.admin.expire(ref));
    return ref;
  }

  /** When a request made now times out. */
  private deadline(): number {
    return this.p.clock() + this.p.requestTimeoutMs;
  }

  /**
   * Whether to hand writes or reads to the core now rather than one macrotask
   * later. Now when nothing is in flight to any peer: the AppendEntries or the
   * ReadIndex heartbeats go out at once, for latency. Now also when no peer has
   * a free slot: nothing would leave before a slot frees anyway, so waiting
   * would only cost one more event. Only in between, when a message would leave
   * at once to a peer that is already busy, do they wait for the others of the
   * same macrotask, to share its messages.
   */
  private sendAtOnce(): boolean {
    const peers = this.p.peers();
    const { transport } = this.p;
    if (peers.length === 0) return false;
    const loads = peers.map((p) => transport.load(p.id));
    return loads.every((l) => l === 'idle') || loads.every((l) => l === 'full');
  }

  private whileRunning(work: () => void): void {
    if (this.p.running()) work();
  }
}
