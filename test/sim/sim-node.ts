// One simulated server: a RaftNode, the key-value state machine it drives,
// and a "disk" that survives crashes. It is the simulator's stand-in for the
// Durable Object, so it carries out each Ready exactly as ready.ts says:
// persist, send, apply, serve reads, report proposals, arm the tick.
//
// A crash throws away everything but the disk. A restart builds a new
// RaftNode from the disk and replays the log into a fresh state machine.
// Planted bugs (`plant`) break this host on purpose, to show the checkers
// notice.
import type { RaftConfig } from '../../worker/raft/config';
import type { Message } from '../../worker/raft/messages';
import { RaftNode } from '../../worker/raft/node';
import type { Ready } from '../../worker/raft/ready';
import type { Entry, HardState, Index, Member, Role, Term } from '../../worker/raft/types';
import { KvStateMachine } from '../../worker/kv/store';
import type { KvResult } from '../../worker/kv/commands';
import type { SafetyChecker } from './checkers/safety';
import { violation } from './checkers/violation';
import type { Clock } from './clock';
import type { Prng } from './prng';
import type { Trace } from './trace';

/** Host-level bugs the simulator can plant to prove its checkers can fail. */
export type Plant =
  /** A leader answers reads from its state machine at once, without ReadIndex. */
  | 'staleReads'
  /** A restarted node forgets whom it voted for. */
  | 'forgetVote'
  /** A crash loses the last few entries written (acked before they were durable). */
  | 'lostWrites';

export const plants: readonly Plant[] = ['staleReads', 'forgetVote', 'lostWrites'];

export interface Disk {
  hardState: HardState;
  entries: Entry[];
}

export type WriteReply = { type: 'ok'; result: KvResult } | { type: 'notLeader'; leader: Member | null } | { type: 'lost' };
export type ReadReply =
  | { type: 'ok'; value: string | null }
  | { type: 'notLeader'; leader: Member | null }
  | { type: 'leadershipLost'; leader: Member | null };

interface PendingWrite {
  term: Term;
  reply: (r: WriteReply) => void;
}

export interface SimNodeDeps {
  config: RaftConfig;
  clock: Clock;
  /** The node's own stream: election jitter and tick jitter. */
  prng: Prng;
  trace: Trace;
  safety: SafetyChecker;
  send: (msg: Message) => void;
  /** This node's clock reads `global + clockOffsetMs`. */
  clockOffsetMs: number;
  tickJitterMaxMs: number;
  plant: Plant | null;
}

export class SimNode {
  readonly id: string;
  readonly disk: Disk = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] };
  private raft: RaftNode | null = null;
  private sm = new KvStateMachine();
  private applied: Index = 0;
  role: Role = 'follower';
  leader: Member | null = null;
  private pausedUntil = 0;
  private tickToken = 0;
  /** Time of the earliest tick event in the queue for the current token. */
  private tickEventAt = Infinity;
  /** When tick() is due (global time, jitter included). */
  private tickTarget = Infinity;
  private ticksThisInstant = 0;
  private lastTickAt = -1;
  private nextRef = 1;
  private readonly proposing = new Map<number, (r: WriteReply) => void>();
  private readonly writesAt = new Map<Index, PendingWrite[]>();
  private readonly reading = new Map<number, { key: string; reply: (r: ReadReply) => void }>();
  /** Set by the nemesis: crash right after the next vote this node grants to another node. */
  private onVoteGranted: (() => void) | null = null;
  private readonly readsWaitingApply: { index: Index; key: string; reply: (r: ReadReply) => void }[] = [];
  /** `plantFired`: how often the planted bug actually changed something. */
  readonly stats = { crashes: 0, restarts: 0, elections: 0, applied: 0, plantFired: 0 };

  constructor(private readonly deps: SimNodeDeps) {
    this.id = deps.config.self.id;
    deps.safety.register(this.id, this.disk);
  }

  get up(): boolean {
    return this.raft !== null;
  }

  get isPaused(): boolean {
    return this.deps.clock.now < this.pausedUntil;
  }

  private get localNow(): number {
    return this.deps.clock.now + this.deps.clockOffsetMs;
  }

  /** Boots from the disk (a new node boots from an empty disk). */
  start(): void {
    if (this.raft) throw new Error(`${this.id} is already up`);
    const d = this.disk;
    const hardState = { ...d.hardState };
    if (this.deps.plant === 'forgetVote') hardState.vote = null;
    this.sm = new KvStateMachine();
    this.applied = 0;
    this.role = 'follower';
    this.leader = null;
    this.raft = new RaftNode({
      config: this.deps.config,
      persisted: { hardState, entries: d.entries.slice() },
      random: () => this.deps.prng.float(),
      now: this.localNow,
      logger: this.deps.trace.loggerFor(this.id),
    });
    this.handle(this.raft.tick(this.localNow));
  }

  /** Loses everything volatile. In-flight requests simply never get an answer. */
  crash(): void {
    if (!this.raft) return;
    this.stats.crashes++;
    this.raft = null;
    this.tickToken++;
    this.tickEventAt = Infinity;
    this.tickTarget = Infinity;
    this.pausedUntil = 0;
    this.onVoteGranted = null;
    this.proposing.clear();
    this.writesAt.clear();
    this.reading.clear();
    this.readsWaitingApply.length = 0;
    this.role = 'follower';
    this.leader = null;
    if (this.deps.plant === 'lostWrites') this.loseUnsyncedTail();
    this.deps.safety.checkDurable(`crash of ${this.id}`);
  }

  restart(): void {
    this.stats.restarts++;
    this.start();
  }

  /** Calls `hook` (once) just after this node next grants its vote to another node. */
  armVoteHook(hook: () => void): void {
    this.onVoteGranted = hook;
  }

  /** Stops processing until `until`; whatever arrives meanwhile waits. */
  pause(until: number): void {
    if (this.raft) this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  unpause(): void {
    this.pausedUntil = 0;
  }

  receive(msg: Message): void {
    if (!this.raft) return;
    if (this.isPaused) return this.deps.clock.at(this.pausedUntil, () => this.receive(msg));
    this.handle(this.raft.step(msg, this.localNow));
  }

  write(data: string, reply: (r: WriteReply) => void): void {
    if (!this.raft) return;
    if (this.isPaused) return this.deps.clock.at(this.pausedUntil, () => this.write(data, reply));
    const ref = this.nextRef++;
    this.proposing.set(ref, reply);
    this.handle(this.raft.propose(ref, data, this.localNow));
  }

  read(key: string, reply: (r: ReadReply) => void): void {
    if (!this.raft) return;
    if (this.isPaused) return this.deps.clock.at(this.pausedUntil, () => this.read(key, reply));
    if (this.deps.plant === 'staleReads' && this.role === 'leader') {
      this.stats.plantFired++;
      return reply({ type: 'ok', value: this.sm.get(key) });
    }
    const ref = this.nextRef++;
    this.reading.set(ref, { key, reply });
    this.handle(this.raft.read(ref, this.localNow));
  }

  private tick(token: number): void {
    if (!this.raft || token !== this.tickToken) return;
    const now = this.deps.clock.now;
    this.tickEventAt = Infinity;
    if (this.isPaused) return this.armTick(this.pausedUntil);
    if (now < this.tickTarget) return this.armTick(this.tickTarget); // the alarm moved later
    if (now === this.lastTickAt) {
      if (++this.ticksThisInstant > 1000) throw violation('host', now, `${this.id}: tick loop, deadline never moves past ${now}`);
    } else {
      this.lastTickAt = now;
      this.ticksThisInstant = 0;
    }
    this.tickTarget = Infinity;
    this.handle(this.raft.tick(this.localNow));
  }

  /** Like a Durable Object alarm: the latest deadline replaces the earlier one. */
  private setAlarm(deadlineLocal: number): void {
    if (!Number.isFinite(deadlineLocal)) {
      this.tickTarget = Infinity;
      return;
    }
    const jitter = this.deps.tickJitterMaxMs > 0 ? this.deps.prng.between(0, this.deps.tickJitterMaxMs) : 0;
    this.tickTarget = Math.max(this.deps.clock.now, deadlineLocal - this.deps.clockOffsetMs + jitter);
    if (this.tickTarget < this.tickEventAt) this.armTick(this.tickTarget);
  }

  private armTick(at: number): void {
    const token = ++this.tickToken;
    this.tickEventAt = at;
    this.deps.clock.at(at, () => this.tick(token));
  }

  private handle(ready: Ready): void {
    this.persist(ready);
    for (const m of ready.messages) this.deps.send(m);
    // Bookkeeping only: remember where proposals landed before applying, since a
    // proposal can commit in the Ready that reports it (a single-node cluster).
    for (const p of ready.proposed) this.proposed(p.ref, p.index, p.term);
    for (const e of ready.committed) this.apply(e);
    for (const r of ready.reads) this.readReady(r.ref, r.index);
    for (const f of ready.failed) this.failed(f.ref, f.kind, f.reason, f.leader);
    if (ready.softState) this.softState(ready.softState.role, ready.softState.leader);
    this.setAlarm(ready.deadline);
  }

  private persist(ready: Ready): void {
    const hs = ready.hardState;
    if (hs) {
      const old = this.disk.hardState;
      if (this.deps.plant === 'forgetVote' && hs.term === old.term && old.vote !== null && hs.vote !== null && hs.vote !== old.vote) {
        this.stats.plantFired++; // voted twice in one term
        this.deps.trace.log(this.id, 'warn', 'sim: plant forgetVote let a node vote twice', { term: hs.term, first: old.vote, second: hs.vote });
      }
      this.disk.hardState = { ...hs };
      const hook = this.onVoteGranted;
      if (hook && hs.vote !== null && hs.vote !== this.id && (hs.vote !== old.vote || hs.term !== old.term)) {
        this.onVoteGranted = null;
        this.deps.clock.after(0, hook); // once this Ready is carried out: the vote is on its way
      }
    }
    const first = ready.entries[0];
    if (!first) return;
    const log = this.disk.entries;
    if (first.index < 1 || first.index > log.length + 1) {
      throw violation('host', this.deps.clock.now, `${this.id}: Ready entries start at ${first.index} but the disk ends at ${log.length}`);
    }
    ready.entries.forEach((e, i) => {
      if (e.index !== first.index + i) throw violation('host', this.deps.clock.now, `${this.id}: Ready entries are not contiguous at ${e.index}`);
    });
    this.deps.safety.beforePersist(this.id, ready.entries);
    log.length = first.index - 1;
    for (const e of ready.entries) log.push(e);
    this.deps.safety.afterPersist(this.id, first.index);
  }

  private apply(e: Entry): void {
    if (e.index !== this.applied + 1) {
      throw violation('host', this.deps.clock.now, `${this.id}: committed entry ${e.index} handed out after ${this.applied}`);
    }
    this.deps.safety.onApply(this.id, e);
    const result = this.sm.apply(e);
    this.applied = e.index;
    this.stats.applied++;
    this.deps.trace.digest.int(e.index);
    this.deps.trace.digest.int(e.term);
    const waiting = this.writesAt.get(e.index);
    if (waiting) {
      this.writesAt.delete(e.index);
      for (const w of waiting) {
        if (w.term !== e.term) w.reply({ type: 'lost' });
        else if (result) w.reply({ type: 'ok', result });
        else throw violation('host', this.deps.clock.now, `${this.id}: proposal at ${e.index} applied as a ${e.kind} entry`);
      }
    }
    this.serveReadsUpTo(e.index);
  }

  private readReady(ref: number, index: Index): void {
    const r = this.reading.get(ref);
    if (!r) return;
    this.reading.delete(ref);
    if (index <= this.applied) return r.reply({ type: 'ok', value: this.sm.get(r.key) });
    this.readsWaitingApply.push({ index, key: r.key, reply: r.reply });
  }

  private serveReadsUpTo(applied: Index): void {
    if (this.readsWaitingApply.length === 0) return;
    const still = [];
    for (const r of this.readsWaitingApply) {
      if (r.index <= applied) r.reply({ type: 'ok', value: this.sm.get(r.key) });
      else still.push(r);
    }
    this.readsWaitingApply.length = 0;
    this.readsWaitingApply.push(...still);
  }

  private proposed(ref: number, index: Index, term: Term): void {
    const reply = this.proposing.get(ref);
    if (!reply) return;
    this.proposing.delete(ref);
    if (index <= this.applied) throw violation('host', this.deps.clock.now, `${this.id}: proposal placed at ${index}, already applied`);
    const list = this.writesAt.get(index);
    if (list) list.push({ term, reply });
    else this.writesAt.set(index, [{ term, reply }]);
  }

  private failed(ref: number, kind: 'propose' | 'read', reason: string, leader: Member | null): void {
    if (kind === 'propose') {
      const reply = this.proposing.get(ref);
      this.proposing.delete(ref);
      reply?.({ type: 'notLeader', leader });
      return;
    }
    const r = this.reading.get(ref);
    this.reading.delete(ref);
    if (!r) return;
    r.reply(reason === 'notLeader' ? { type: 'notLeader', leader } : { type: 'leadershipLost', leader });
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
    this.deps.trace.log(this.id, 'warn', 'sim: plant lostWrites dropped log tail', { lose, lastIndex: log.length });
  }
}
