// One simulated server: a RaftNode, the key-value state machine it drives,
// and a "disk" that survives crashes. It is the simulator's stand-in for the
// Durable Object, so it carries out each Ready as ready.ts says: persist,
// send, apply, serve reads, report proposals, arm the alarm. Like the object,
// a leader may write its new entries after sending them (held-writes.ts), and
// writes them before acting on any later step.
//
// A crash throws away everything but the disk. A restart builds a new
// RaftNode from the disk (every term, the entries after the stored commit in
// full) and replays the log into a fresh state machine. The core reads the
// entries it no longer holds back from the disk, and only from the disk.
// Committed entries come in bounded batches: while a Ready says more wait,
// the host fetches the next batch in an event of its own at the same instant,
// so messages and crashes can fall between two batches.
// Planted bugs (`plant`) break this host on purpose, to show the checkers
// notice.
import type { RaftConfig } from '../../worker/raft/config';
import type { Message } from '../../worker/raft/messages';
import { RaftNode } from '../../worker/raft/node';
import type { Ready } from '../../worker/raft/ready';
import type { Entry, HardState, Index, Member, Role } from '../../worker/raft/types';
import { KvStateMachine } from '../../worker/kv/store';
import { Alarm, type AlarmOptions } from './alarm';
import { checkOutgoing } from './checkers/outgoing';
import type { SafetyChecker } from './checkers/safety';
import { violation } from './checkers/violation';
import type { Clock } from './clock';
import type { Prng } from './prng';
import type { Trace } from './trace';
import { Waiters, type ReadReply, type WriteReply } from './waiters';
import { loaderFor, persistedFrom } from '../fixtures/stored-log';
import { mayWriteAfterSending, type HeldWrite } from '../../worker/host/held-writes';
import { MacrotaskBatch } from '../../worker/host/macrotask-batch';

export type { ReadReply, WriteReply } from './waiters';

/** Host-level bugs the simulator can plant to prove its checkers can fail. */
export type Plant =
  /** A leader answers reads from its state machine at once, without ReadIndex. */
  | 'staleReads'
  /** A restarted node forgets whom it voted for. */
  | 'forgetVote'
  /** A crash loses the last few entries written (acked before they were durable). */
  | 'lostWrites'
  /** A leader acts on entries it holds back (deps.heldWrites) before writing them. */
  | 'unwrittenHeld';

export const plants: readonly Plant[] = ['staleReads', 'forgetVote', 'lostWrites', 'unwrittenHeld'];

export interface Disk {
  hardState: HardState;
  entries: Entry[];
}

export interface SimNodeDeps {
  config: RaftConfig;
  clock: Clock;
  /** The node's own stream: election jitter and alarm jitter. */
  prng: Prng;
  trace: Trace;
  safety: SafetyChecker;
  send: (msg: Message) => void;
  /** This node's clock reads `global + clockOffsetMs`. */
  clockOffsetMs: number;
  alarm: AlarmOptions;
  plant: Plant | null;
  /**
   * Whether a leader writes its new entries after sending them, as the
   * Durable Object does (worker/host/held-writes.ts), and how long the write may
   * wait (up to `delayMaxMs`; the object waits one macrotask). Any later step
   * writes them first.
   */
  heldWrites: { enabled: boolean; delayMaxMs: number };
  /** Requests arriving within a few ms reach the core as one proposeBatch / readBatch (worker/coalesce.ts). */
  sharedCalls: boolean;
}

type SharedCall = { kind: 'write'; ref: number; data: string } | { kind: 'read'; ref: number };

export class SimNode {
  readonly id: string;
  readonly disk: Disk = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] };
  role: Role = 'follower';
  leader: Member | null = null;
  private raft: RaftNode | null = null;
  private sm = new KvStateMachine();
  private waiters = new Waiters(() => null);
  private applied: Index = 0;
  private pausedUntil = 0;
  /** An event to fetch more committed entries is queued (Ready.moreCommitted). */
  private fetchQueued = false;
  /**
   * A leader's entries, sent but not yet on the disk (deps.heldWrites). The
   * flush comes 0-delayMaxMs later, after any pause; one left over from before
   * a crash only writes the next incarnation's entries early, which is allowed.
   */
  private readonly held = new MacrotaskBatch<HeldWrite>(
    (writes) => {
      for (const w of writes) this.persist(w);
    },
    (run) => {
      const fire = (): void => {
        if (this.paused) return this.deps.clock.at(this.pausedUntil, fire);
        run();
      };
      this.deps.clock.after(this.deps.prng.between(0, this.deps.heldWrites.delayMaxMs), fire);
    },
  );
  private readonly alarm: Alarm;
  /** Client requests waiting to reach the core together (deps.sharedCalls). */
  private shared: SharedCall[] = [];
  /** Set by the nemesis: called right after this node next grants its vote to another node. */
  private voteHook: (() => void) | null = null;
  /** `plantFired`: how often the planted bug actually changed something. */
  readonly stats = { crashes: 0, restarts: 0, elections: 0, applied: 0, truncations: 0, plantFired: 0 };

  constructor(private readonly deps: SimNodeDeps) {
    this.id = deps.config.self.id;
    deps.safety.register(this.id, this.disk);
    this.alarm = new Alarm(deps.clock, deps.prng, deps.alarm, this.id, () => this.tick());
  }

  get up(): boolean {
    return this.raft !== null;
  }

  private get paused(): boolean {
    return this.deps.clock.now < this.pausedUntil;
  }

  private get localNow(): number {
    return this.deps.clock.now + this.deps.clockOffsetMs;
  }

  /** Boots from the disk (a new node boots from an empty disk). */
  start(): void {
    if (this.raft) throw new Error(`${this.id} is already up`);
    const persisted = persistedFrom(this.disk);
    if (this.deps.plant === 'forgetVote') persisted.hardState.vote = null;
    const sm = new KvStateMachine();
    this.sm = sm;
    this.waiters = new Waiters((key) => sm.get(key));
    this.applied = 0;
    this.role = 'follower';
    this.leader = null;
    this.raft = new RaftNode({
      config: this.deps.config,
      persisted,
      random: () => this.deps.prng.float(),
      now: this.localNow,
      loadEntries: loaderFor(this.disk),
      logger: this.deps.trace.loggerFor(this.id),
    });
    this.handle(this.raft.tick(this.localNow)); // hands out the committed prefix to replay
  }

  /** Loses everything volatile. Requests in flight never get an answer. */
  crash(): void {
    if (!this.raft) return;
    this.stats.crashes++;
    this.raft = null;
    this.alarm.cancel();
    this.fetchQueued = false;
    this.pausedUntil = 0;
    this.voteHook = null;
    this.held.take(); // sent, never written, never acknowledged
    this.shared = []; // never reached the core
    this.waiters = new Waiters(() => null);
    this.role = 'follower';
    this.leader = null;
    if (this.deps.plant === 'lostWrites') this.loseUnsyncedTail();
    this.deps.safety.checkDurable(`crash of ${this.id}`);
  }

  restart(): void {
    this.stats.restarts++;
    this.start();
  }

  /** Stops processing until `until`; whatever arrives meanwhile waits. */
  pause(until: number): void {
    if (this.raft) this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  unpause(): void {
    this.pausedUntil = 0;
  }

  /** Calls `hook` (once) just after this node next grants its vote to another node. */
  armVoteHook(hook: () => void): void {
    this.voteHook = hook;
  }

  receive(msg: Message): void {
    if (!this.raft) return;
    if (this.paused) return this.deps.clock.at(this.pausedUntil, () => this.receive(msg));
    this.handle(this.raft.step(msg, this.localNow));
  }

  write(data: string, reply: (r: WriteReply) => void): void {
    if (!this.raft) return;
    if (this.paused) return this.deps.clock.at(this.pausedUntil, () => this.write(data, reply));
    const ref = this.waiters.write(reply);
    if (this.deps.sharedCalls) return this.share({ kind: 'write', ref, data });
    this.handle(this.raft.propose(ref, data, this.localNow));
  }

  read(key: string, reply: (r: ReadReply) => void): void {
    if (!this.raft) return;
    if (this.paused) return this.deps.clock.at(this.pausedUntil, () => this.read(key, reply));
    if (this.deps.plant === 'staleReads' && this.role === 'leader') {
      this.stats.plantFired++;
      return reply({ type: 'ok', value: this.sm.get(key) });
    }
    const ref = this.waiters.read(key, reply);
    if (this.deps.sharedCalls) return this.share({ kind: 'read', ref });
    this.handle(this.raft.read(ref, this.localNow));
  }

  /**
   * Queue a request for the batch that goes to the core 0-2 ms from now (the
   * Worker holds requests one macrotask while a call is in flight), after any
   * pause. A crash in between drops the batch with the incarnation that queued
   * it: its requests never get an answer.
   */
  private share(call: SharedCall): void {
    this.shared.push(call);
    if (this.shared.length > 1) return;
    const raft = this.raft;
    const flush = (): void => {
      if (this.raft !== raft || raft === null) return;
      if (this.paused) return this.deps.clock.at(this.pausedUntil, flush);
      const calls = this.shared;
      this.shared = [];
      const writes = calls.flatMap((c) => (c.kind === 'write' ? [{ ref: c.ref, data: c.data }] : []));
      const reads = calls.flatMap((c) => (c.kind === 'read' ? [c.ref] : []));
      if (writes.length > 0) this.handle(raft.proposeBatch(writes, this.localNow));
      if (reads.length > 0 && this.raft === raft) this.handle(raft.readBatch(reads, this.localNow));
    };
    this.deps.clock.after(this.deps.prng.between(0, 2), flush);
  }

  private tick(): void {
    if (!this.raft) return;
    if (this.paused) return this.alarm.postpone(this.pausedUntil);
    this.handle(this.raft.tick(this.localNow));
  }

  private handle(ready: Ready): void {
    this.checkBounds(ready);
    // Whatever this step decided may rest on held entries: they reach the disk before any of its effects.
    if (this.deps.plant === 'unwrittenHeld' && this.held.size > 0) this.stats.plantFired++;
    else this.writeHeld();
    const changesTermOrVote =
      ready.hardState !== null && (ready.hardState.term !== this.disk.hardState.term || ready.hardState.vote !== this.disk.hardState.vote);
    if (this.deps.heldWrites.enabled && mayWriteAfterSending(ready, this.role, changesTermOrVote)) {
      this.held.add({ hardState: ready.hardState, entries: ready.entries });
    } else {
      this.persist(ready);
    }
    for (const m of ready.messages) {
      checkOutgoing(this.deps.config, this.disk, m, this.deps.clock.now);
      this.deps.send(m);
    }
    // Bookkeeping only: note where proposals landed before applying, since a
    // proposal can commit in the very Ready that reports it (one-node cluster).
    for (const p of ready.proposed) this.waiters.proposed(p.ref, p.index, p.term);
    for (const e of ready.committed) this.apply(e);
    for (const r of ready.reads) this.waiters.readReady(r.ref, r.index, this.applied);
    for (const f of ready.failed) this.waiters.failed(f.ref, f.kind, f.reason, f.leader);
    if (ready.softState) this.softState(ready.softState.role, ready.softState.leader);
    this.alarm.set(ready.deadline - this.deps.clockOffsetMs);
    if (ready.moreCommitted) this.fetchMoreCommitted();
  }

  private writeHeld(): void {
    for (const w of this.held.take()) this.persist(w);
  }

  /** Ready.moreCommitted: take the next batch of committed entries in an event of its own, now. */
  private fetchMoreCommitted(): void {
    if (this.fetchQueued) return;
    this.fetchQueued = true;
    const raft = this.raft;
    const fetch = (): void => {
      if (raft === null || this.raft !== raft) return; // crashed meanwhile: the restart replays
      if (this.paused) return this.deps.clock.at(this.pausedUntil, fetch);
      this.fetchQueued = false;
      this.handle(raft.tick(this.localNow));
    };
    this.deps.clock.after(0, fetch);
  }

  /** The memory bounds of the core: committed entries per Ready, payloads held beyond the unapplied ones. */
  private checkBounds(ready: Ready): void {
    const raft = this.raft;
    if (raft === null) return;
    const cfg = this.deps.config;
    let bytes = 0;
    for (const e of ready.committed) bytes += e.data.length;
    const n = ready.committed.length;
    const fail = (why: string) => violation('host', this.deps.clock.now, `${this.id}: ${why}`);
    if (n > cfg.maxCommittedEntriesPerReady || (n > 1 && bytes > cfg.maxCommittedBytesPerReady)) {
      throw fail(`a Ready hands out ${n} committed entries (${bytes} bytes), over the limits`);
    }
    const s = raft.status(this.localNow);
    const held = raft.payloadsHeld();
    if (held > s.lastLogIndex - s.appliedIndex + cfg.payloadWindowEntries) {
      throw fail(`holds ${held} payloads with ${s.lastLogIndex - s.appliedIndex} unapplied and a window of ${cfg.payloadWindowEntries}`);
    }
  }

  private persist(ready: HeldWrite): void {
    if (ready.hardState) this.persistHardState(ready.hardState);
    const first = ready.entries[0];
    if (!first) return;
    const log = this.disk.entries;
    const now = this.deps.clock.now;
    if (first.index < 1 || first.index > log.length + 1) {
      throw violation('host', now, `${this.id}: Ready entries start at ${first.index} but the disk ends at ${log.length}`);
    }
    ready.entries.forEach((e, i) => {
      if (e.index !== first.index + i) throw violation('host', now, `${this.id}: Ready entries are not contiguous at ${e.index}`);
    });
    this.deps.safety.beforePersist(this.id, ready.entries, this.disk.hardState.term);
    if (first.index <= log.length) this.stats.truncations++;
    this.deps.trace.log(this.id, 'debug', 'sim: persist', { from: first.index, count: ready.entries.length, replacing: Math.max(0, log.length - first.index + 1) });
    log.length = first.index - 1;
    for (const e of ready.entries) log.push(e);
    this.deps.safety.afterPersist(this.id, first.index);
  }

  private persistHardState(hs: HardState): void {
    const old = this.disk.hardState;
    this.disk.hardState = { ...hs };
    const newVote = hs.vote !== null && hs.vote !== this.id && (hs.vote !== old.vote || hs.term !== old.term);
    if (!newVote) return;
    if (this.deps.plant === 'forgetVote' && hs.term === old.term && old.vote !== null) {
      this.stats.plantFired++;
      this.deps.trace.log(this.id, 'warn', 'sim: plant forgetVote let a node vote twice', { term: hs.term, first: old.vote, second: hs.vote });
    }
    const hook = this.voteHook;
    if (hook) {
      this.voteHook = null;
      this.deps.clock.after(0, hook); // once this Ready is carried out and the vote is on its way
    }
  }

  private apply(e: Entry): void {
    if (e.index !== this.applied + 1) {
      throw violation('host', this.deps.clock.now, `${this.id}: committed entry ${e.index} handed out after ${this.applied}`);
    }
    this.deps.safety.onApply(this.id, e, this.disk.hardState.term);
    this.deps.trace.log(this.id, 'debug', 'sim: apply', { index: e.index, term: e.term });
    const result = this.sm.apply(e);
    this.applied = e.index;
    this.stats.applied++;
    this.deps.trace.digest.int(e.index);
    this.deps.trace.digest.int(e.term);
    if (!this.waiters.applied(e, result)) {
      throw violation('host', this.deps.clock.now, `${this.id}: a proposal at ${e.index} was applied as a ${e.kind} entry`);
    }
  }

  private softState(role: Role, leader: Member | null): void {
    const was = this.role;
    this.role = role;
    this.leader = leader;
    if (role === 'leader' && was !== 'leader' && this.raft) {
      this.stats.elections++;
      const term = this.raft.status(this.localNow).term;
      this.deps.trace.log(this.id, 'info', 'sim: became leader', { term });
      this.deps.safety.onLeader(this.id, term);
    }
  }

  /** Plant 'lostWrites': the last 1-3 entries were acknowledged but never reached the disk. */
  private loseUnsyncedTail(): void {
    const log = this.disk.entries;
    const lose = Math.min(log.length, this.deps.prng.between(1, 3));
    log.length -= lose;
    this.stats.plantFired += lose;
    const hs = this.disk.hardState;
    this.disk.hardState = { ...hs, commit: Math.min(hs.commit, log.length) };
    this.deps.trace.log(this.id, 'warn', 'sim: plant lostWrites dropped the log tail', { lose, lastIndex: log.length });
  }
}
