// One simulated server: the production NodeHost (worker/host/node-host.ts)
// built over simulated parts, as the Durable Object builds it over real ones:
//   - storage: a disk whose writes become durable a little later, with an
//     output gate and crashes that lose what was not yet durable (storage.ts);
//   - transport: the simulated network, behind the output gate;
//   - timers: the production AlarmTimers over one jittery simulated alarm;
//   - scheduler: the virtual clock, 0..delayMaxMs later ("next macrotask");
//   - state machine: the KV store, with the safety checker watching applies.
// What remains here is what the Worker in front of the object does (sharing
// calls between requests), pauses, crashes and restarts, and the planted bugs
// (plants.ts) that break the host on purpose to show the checkers notice.
import { AlarmTimers } from '../../worker/adapters/alarm-timers';
import type { HostTransport } from '../../worker/host/ports';
import { NodeHost } from '../../worker/host/node-host';
import type { HostOptions, ReadRequest, WriteRequest } from '../../worker/host/host-options';
import type { AdminOutcome, ReadOutcome, WriteOutcome } from '../../worker/host/pending-requests';
import type { Membership, MembershipChange } from '../../worker/raft/membership';
import type { KvResult } from '../../worker/kv/commands';
import type { RaftConfig } from '../../worker/raft/config';
import type { Message } from '../../worker/raft/messages';
import { RaftNode, type NodeStatus } from '../../worker/raft/node';
import type { Ready } from '../../worker/raft/ready';
import type { Entry, Member, Role } from '../../worker/raft/types';
import { Alarm, type AlarmOptions } from './alarm';
import { checkOutgoing } from './checkers/outgoing';
import { checkReadyBounds } from './checkers/ready-bounds';
import type { SafetyChecker } from './checkers/safety';
import type { SnapshotChecker } from './checkers/snapshots';
import type { Clock } from './clock';
import { PlantedHost, type Plant } from './plants';
import type { Prng } from './prng';
import { SimMachine } from './sim-machine';
import { SimStorage, type StoredSnapshot } from './storage';
import type { Trace } from './trace';

export type WriteReply = WriteOutcome<KvResult>;
export type ReadReply = ReadOutcome<string | null>;

export interface SimNodeDeps {
  config: RaftConfig;
  clock: Clock;
  /** The node's own stream: election jitter, alarm jitter, sync and macrotask delays. */
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
   * Durable Object does (worker/host/held-writes.ts); `delayMaxMs` is how late
   * a "next macrotask" may run (held writes, group commit, further batches of
   * committed entries).
   */
  heldWrites: { enabled: boolean; delayMaxMs: number };
  /** A write becomes durable up to this long after it is made. */
  syncMaxMs: number;
  /** The node answers a request it could not settle within this with `timeout`. */
  requestTimeoutMs: number;
  /** Requests arriving within a few ms reach the host as one batch (worker/front/coalesce.ts). */
  sharedCalls: boolean;
  /** Log compaction: every this many applied entries, keeping this many; snapshot chunks of this size. */
  snapshot: { every: number; retain: number; chunkBytes: number };
  snapshots: SnapshotChecker;
}

type KvHost = NodeHost<KvResult, string, string | null>;
type SharedCall = { kind: 'write'; req: WriteRequest<KvResult> } | { kind: 'read'; req: ReadRequest<string, string | null> };

export class SimNode {
  readonly id: string;
  readonly storage: SimStorage;
  private host: KvHost | null = null;
  private machine: SimMachine;
  private pausedUntil = 0;
  private readonly alarm: Alarm;
  private timers: AlarmTimers | null = null;
  /** Client requests waiting to reach the host together (deps.sharedCalls). */
  private shared: SharedCall[] = [];
  /** `plantFired`: how often the planted bug actually changed something. */
  readonly stats = {
    crashes: 0,
    restarts: 0,
    elections: 0,
    applied: 0,
    truncations: 0,
    plantFired: 0,
    compactions: 0,
    snapshotsInstalled: 0,
  };

  constructor(private readonly deps: SimNodeDeps) {
    this.id = deps.config.self.id;
    this.storage = new SimStorage({
      id: this.id,
      clock: deps.clock,
      prng: deps.prng,
      trace: deps.trace,
      safety: deps.safety,
      syncMaxMs: deps.syncMaxMs,
      pausedUntil: () => this.pausedUntil,
      stats: this.stats,
    });
    this.alarm = new Alarm(deps.clock, deps.prng, deps.alarm, this.id, () => this.onAlarm());
    this.machine = this.newMachine(null);
  }

  get up(): boolean {
    return this.host !== null;
  }

  get role(): Role {
    return this.host?.role ?? 'follower';
  }

  get leader(): Member | null {
    return this.host?.leader ?? null;
  }

  /** The node's durable disk. */
  get disk(): { readonly entries: readonly Entry[] } {
    return this.storage.durable;
  }

  private get paused(): boolean {
    return this.deps.clock.now < this.pausedUntil;
  }

  private get localNow(): number {
    return this.deps.clock.now + this.deps.clockOffsetMs;
  }

  /** Boots from the durable disk (a new node boots from an empty disk). */
  start(): void {
    if (this.host) throw new Error(`${this.id} is already up`);
    const d = this.deps;
    if (d.plant === 'forgetVote' && this.storage.durable.hardState.vote !== null) {
      this.stats.plantFired++;
      this.storage.forgetVote();
    }
    const { persisted, loadEntries, snapshot } = this.storage.load();
    this.machine = this.newMachine(snapshot);
    const core = new RaftNode({
      config: d.config,
      persisted,
      random: () => d.prng.float(),
      now: this.localNow,
      loadEntries,
      logger: d.trace.loggerFor(this.id),
    });
    const timers = new AlarmTimers(
      { setAlarm: (at) => (this.alarm.set(at - d.clockOffsetMs), Promise.resolve()) },
      null,
      () => {}, // the simulated alarm never refuses
    );
    this.timers = timers;
    const storage = this.storage;
    const transport: HostTransport = {
      send: (messages) => {
        // Checked against what the node sees now: the gate makes all of it durable before these leave.
        for (const m of messages) checkOutgoing(d.config, storage.visible, m, d.clock.now);
        const copies = messages.slice();
        storage.output(() => copies.forEach((m) => d.send(m)));
      },
      load: () => 'idle',
      setPeers: () => {}, // the simulated network reaches every node by id
    };
    const options: HostOptions<KvResult, string, string | null> = {
      core,
      storage,
      transport,
      timers,
      schedule: (run) => this.later(run),
      clock: () => this.localNow,
      machine: this.machine.forHost(),
      requestTimeoutMs: d.requestTimeoutMs,
      snapshotEvery: d.snapshot.every,
      logRetain: d.snapshot.retain,
      snapshotChunkBytes: d.snapshot.chunkBytes,
      holdLeaderWrites: d.heldWrites.enabled,
      logger: d.trace.loggerFor(this.id),
      fatal: () => {}, // the throw itself stops the run as a violation
      afterReady: (ready) => this.afterReady(ready),
    };
    const planted = d.plant === 'unwrittenHeld' || d.plant === 'holdEveryWrite' ? d.plant : null;
    this.host = planted ? new PlantedHost(options, planted, () => this.stats.plantFired++) : new NodeHost(options);
    this.host.start(); // replays the committed prefix
  }

  /** Loses everything volatile. Requests in flight never get an answer. */
  crash(): void {
    if (!this.host) return;
    this.stats.crashes++;
    this.host.stop();
    this.host = null;
    this.timers = null;
    this.alarm.cancel();
    this.pausedUntil = 0;
    this.shared = []; // never reached the node
    let lose = 0;
    if (this.deps.plant === 'lostWrites') {
      lose = Math.min(this.storage.durable.entries.length, this.deps.prng.between(1, 3));
      this.stats.plantFired += lose;
    }
    this.storage.crash(lose);
    this.deps.safety.checkDurable(`crash of ${this.id}`);
  }

  restart(): void {
    this.stats.restarts++;
    this.start();
  }

  /** Stops processing until `until`; whatever arrives meanwhile waits. */
  pause(until: number): void {
    if (this.host) this.pausedUntil = Math.max(this.pausedUntil, until);
  }

  unpause(): void {
    this.pausedUntil = 0;
  }

  /** This node as a member of a configuration. */
  get member(): Member {
    return this.deps.config.self;
  }

  /** The size of this node's serialized state machine (what a snapshot of it would carry). */
  stateBytes(): number {
    return this.host ? this.machine.stateBytes() : 0;
  }

  /** The node's status (it must be up). */
  status(): NodeStatus {
    if (!this.host) throw new Error(`${this.id} is down`);
    return this.host.status();
  }

  /** The configuration this node has in force (none known while down). */
  membership(): Membership {
    return this.host?.core.membership() ?? { voters: [], learners: [] };
  }

  /** A membership change asked of this node (it answers notLeader unless it leads). */
  changeMembership(change: MembershipChange, reply: (o: AdminOutcome) => void): void {
    if (!this.host || this.paused) return;
    this.host.changeMembership(change, this.gated(reply));
  }

  transferLeadership(target: string, reply: (o: AdminOutcome) => void): void {
    if (!this.host || this.paused) return;
    this.host.transferLeadership(target, this.gated(reply));
  }

  /** Calls `hook` (once) just after this node's next vote for another node is durable and sent. */
  armVoteHook(hook: () => void): void {
    this.storage.armVoteHook(hook);
  }

  receive(msg: Message): void {
    const host = this.host;
    if (!host) return;
    if (this.paused) return this.deps.clock.at(this.pausedUntil, () => this.receive(msg));
    const replies = host.receive([msg]);
    for (const m of replies) checkOutgoing(this.deps.config, this.storage.visible, m, this.deps.clock.now);
    if (replies.length > 0) this.storage.output(() => replies.forEach((m) => this.deps.send(m)));
  }

  write(data: string, reply: (r: WriteReply) => void): void {
    if (!this.host) return;
    if (this.paused) return this.deps.clock.at(this.pausedUntil, () => this.write(data, reply));
    const req: WriteRequest<KvResult> = { data, reply: this.gated(reply) };
    if (this.deps.sharedCalls) return this.share({ kind: 'write', req });
    this.host.propose([req]);
  }

  read(key: string, reply: (r: ReadReply) => void): void {
    if (!this.host) return;
    if (this.paused) return this.deps.clock.at(this.pausedUntil, () => this.read(key, reply));
    if (this.deps.plant === 'staleReads' && this.role === 'leader') {
      this.stats.plantFired++;
      return reply({ type: 'ok', value: this.machine.get(key) });
    }
    const req: ReadRequest<string, string | null> = { query: key, reply: this.gated(reply) };
    if (this.deps.sharedCalls) return this.share({ kind: 'read', req });
    this.host.read([req]);
  }

  /** A reply to a client is an output like any other: it waits for the writes before it. */
  private gated<T>(reply: (r: T) => void): (r: T) => void {
    const storage = this.storage;
    return (r) => storage.output(() => reply(r));
  }

  /**
   * Queue a request for the batch that goes to the host 0-2 ms from now (the
   * Worker holds requests one macrotask while a call is in flight), after any
   * pause. A crash in between drops the batch with the incarnation that queued
   * it: its requests never get an answer.
   */
  private share(call: SharedCall): void {
    this.shared.push(call);
    if (this.shared.length > 1) return;
    const host = this.host;
    const flush = (): void => {
      if (this.host !== host || host === null) return;
      if (this.paused) return this.deps.clock.at(this.pausedUntil, flush);
      const calls = this.shared;
      this.shared = [];
      host.propose(calls.flatMap((c) => (c.kind === 'write' ? [c.req] : [])));
      if (host.running) host.read(calls.flatMap((c) => (c.kind === 'read' ? [c.req] : [])));
    };
    this.deps.clock.after(this.deps.prng.between(0, 2), flush);
  }

  /** The scheduler the host gets: "the next macrotask", 0..delayMaxMs of virtual time later, after any pause. */
  private later(run: () => void): void {
    const fire = (): void => {
      if (this.paused) return this.deps.clock.at(this.pausedUntil, fire);
      run();
    };
    this.deps.clock.after(this.deps.prng.between(0, this.deps.heldWrites.delayMaxMs), fire);
  }

  private onAlarm(): void {
    const timers = this.timers;
    if (!timers) return;
    if (this.paused) return this.alarm.postpone(this.pausedUntil);
    timers.fire(this.localNow);
  }

  private newMachine(snapshot: StoredSnapshot | null): SimMachine {
    const d = this.deps;
    const deps = { id: this.id, storage: this.storage, safety: d.safety, snapshots: d.snapshots, trace: d.trace, stats: this.stats };
    return new SimMachine({ ...deps, appliedIndex: () => this.host?.appliedIndex ?? 0 }, snapshot);
  }

  private afterReady(ready: Ready): void {
    const host = this.host;
    if (host === null) return; // the Ready of start(), before the host is assigned: checked on the next
    checkReadyBounds(this.deps.config, this.id, this.deps.clock.now, host, ready);
    const soft = ready.softState;
    if (soft?.role === 'leader') {
      this.stats.elections++;
      const term = host.status().term;
      this.deps.trace.log(this.id, 'info', 'sim: became leader', { term });
      this.deps.safety.onLeader(this.id, term);
    }
  }
}
