// The nemesis: a schedule of faults drawn from one seed. Every few seconds a
// fault starts or one of the active ones heals; faults overlap, so
// combinations (a partition while a node is down, a paused leader on the
// minority side) happen. At the end everything heals. Every event is recorded
// with its time, so a failing history can be read against the schedule.
import type { Prng } from '../sim/prng';
import type { FaultCluster } from './cluster';
import { amnesiaScenario } from './amnesia';
import { describeFault, drawKind, drawPartition, type Fault } from './faults';
import { MembershipNemesis } from './membership';

export interface NemesisEvent {
  atMs: number;
  action: 'start' | 'heal' | 'restarted' | 'self-test' | 'heal-all' | 'error';
  fault: string;
  /** The links cut and the node states after the event. */
  network: string;
  nodes: string;
  detail?: Fault;
}

export interface NemesisOptions {
  minGapMs: number;
  maxGapMs: number;
  /** At most this many faults at once. */
  maxActive: number;
  /** Self-test of the checks: open with the amnesia scenario (amnesia.ts), which Raft does not survive. */
  amnesia: boolean;
  /** Membership changes on their own schedule alongside the faults (membership.ts); null: none. */
  membership: { minVoters: number; maxMembers: number } | null;
  now: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Nemesis {
  readonly events: NemesisEvent[] = [];
  private active: Fault[] = [];
  /** Restarts in progress: a restart takes seconds, and the schedule goes on meanwhile. */
  private readonly restarts = new Map<string, Promise<void>>();
  readonly members: MembershipNemesis | null;

  constructor(
    private readonly cluster: FaultCluster,
    private readonly rng: Prng,
    private readonly o: NemesisOptions,
  ) {
    const memberRng = rng.fork();
    this.members =
      o.membership === null
        ? null
        : new MembershipNemesis(cluster, memberRng, {
            ...o.membership,
            now: o.now,
            record: (e) => {
              const fault: Fault = { kind: 'member', ...e };
              this.record('start', describeFault(fault), fault);
            },
          });
  }

  /** Transfers asked, and those the leader confirmed. */
  get transfers(): { asked: number; done: number } {
    const t = this.events.flatMap((e) => (e.detail?.kind === 'transfer' && e.action === 'start' ? [e.detail] : []));
    return { asked: t.length, done: t.filter((f) => f.answer.startsWith('200')).length };
  }

  /** Runs faults until `untilMs` (on the `now` clock), then heals everything. */
  async run(untilMs: number, shouldStop: () => boolean = () => false): Promise<void> {
    let members: Promise<void> = Promise.resolve();
    try {
      if (this.o.amnesia) await amnesiaScenario(this.cluster, (what) => this.record('self-test', what));
      members = this.members?.run(untilMs, shouldStop) ?? members;
      for (let step = 0; step < 10_000 && !shouldStop(); step++) {
        const gap = this.rng.between(this.o.minGapMs, this.o.maxGapMs);
        if (this.o.now() + gap >= untilMs) break;
        await sleep(gap);
        if (shouldStop()) break;
        const start = this.active.length === 0 || (this.active.length < this.o.maxActive && this.rng.below(2) === 0);
        if (start) await this.startOne();
        else await this.healOne(this.rng.below(this.active.length));
      }
      const left = untilMs - this.o.now();
      if (left > 0 && !shouldStop()) await sleep(left);
    } finally {
      await members.catch((err: unknown) => this.record('error', `membership nemesis failed: ${(err as Error).message}`));
      await this.healAll();
    }
  }

  async healAll(): Promise<void> {
    this.active = [];
    try {
      await Promise.all(this.restarts.values());
      await this.cluster.healAll();
      this.record('heal-all', 'heal everything');
    } catch (err) {
      this.record('error', `heal everything failed: ${(err as Error).message}`);
      throw err;
    }
  }

  private async startOne(): Promise<void> {
    const kind = drawKind(this.rng);
    if (kind === 'transfer') return this.transfer();
    const aimAtLeader = this.rng.below(2) === 0;
    const ids = this.cluster.ids;
    const leader = aimAtLeader ? await this.cluster.leader() : null;
    if (kind === 'kill' || kind === 'pause' || kind === 'blip') {
      const busy = new Set(this.active.flatMap((f) => (f.kind === 'kill' || f.kind === 'pause' || f.kind === 'blip' ? [f.node] : [])));
      const candidates = ids.filter((id) => !busy.has(id) && this.cluster.node(id).state === 'running');
      if (candidates.length === 0) return;
      const node = leader !== null && candidates.includes(leader) ? leader : this.rng.pick(candidates);
      const wasLeader = node === leader;
      const runner = this.cluster.node(node);
      if (kind === 'blip') {
        // Starts and heals at once: it does not stay active.
        const fault: Fault = { kind, node, wasLeader, pauseMs: this.rng.between(100, 900) };
        runner.pause();
        this.record('start', describeFault(fault), fault);
        await sleep(fault.pauseMs);
        runner.resume();
        this.record('heal', describeFault(fault), fault);
        return;
      }
      const fault: Fault = { kind, node, wasLeader };
      if (kind === 'kill') await runner.kill();
      else runner.pause();
      this.active.push(fault);
      this.record('start', describeFault(fault), fault);
      return;
    }
    const target = leader ?? this.rng.pick(ids);
    const fault = drawPartition(this.rng, kind, ids, target, leader !== null);
    this.active.push(fault);
    this.applyNetwork();
    this.record('start', describeFault(fault), fault);
  }

  /**
   * Ask the leader, through the admin API, to hand leadership to another
   * running node (thesis §3.10), alongside whatever else is going on. It starts
   * and ends at once, like a blip; the answer (done, refused, timeout) is
   * recorded. Membership changes run on their own schedule (membership.ts).
   */
  private async transfer(): Promise<void> {
    const from = await this.cluster.leader();
    if (from === null) return;
    const voters = (await this.cluster.status(from))?.membership.voters.map((v) => v.id) ?? [];
    const candidates = voters.filter((id) => id !== from && this.cluster.ids.includes(id) && this.cluster.node(id).state === 'running');
    if (candidates.length === 0) return;
    const to = this.rng.pick(candidates);
    let answer: string;
    try {
      const res = await fetch(`${this.cluster.node(from).url}/cluster/leader`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.cluster.secret}` },
        body: JSON.stringify({ id: to }),
        signal: AbortSignal.timeout(5000),
        redirect: 'manual',
      });
      answer = `${res.status} ${(await res.text()).slice(0, 120)}`;
    } catch (err) {
      answer = `no answer: ${(err as Error).message}`;
    }
    const fault: Fault = { kind: 'transfer', from, to, answer };
    this.record('start', describeFault(fault), fault);
  }

  private async healOne(index: number): Promise<void> {
    const fault = this.active[index];
    if (!fault) return;
    this.active.splice(index, 1);
    switch (fault.kind) {
      case 'partition':
        this.applyNetwork();
        break;
      case 'pause':
      case 'blip':
        this.cluster.node(fault.node).resume();
        break;
      case 'transfer':
      case 'member':
        break;
      case 'kill': {
        // Recorded when issued; the node rejoins once its process serves again.
        const node = fault.node;
        const restart = this.cluster
          .restart(node)
          .then(() => this.record('restarted', `${node} serves again`))
          .catch((err: unknown) => {
            this.record('error', `restart of ${node} failed: ${(err as Error).message}`);
            throw err;
          })
          .finally(() => this.restarts.delete(node));
        restart.catch(() => {}); // awaited (and its failure raised) by healAll
        this.restarts.set(node, restart);
        break;
      }
    }
    this.record('heal', describeFault(fault), fault);
  }

  private applyNetwork(): void {
    this.cluster.applyCuts(this.active.flatMap((f) => (f.kind === 'partition' ? f.cuts : [])));
  }

  private record(action: NemesisEvent['action'], fault: string, detail?: Fault): void {
    const nodes = this.cluster.ids.map((id) => `${id}:${this.cluster.node(id).state}`).join(' ');
    const ev: NemesisEvent = { atMs: Math.round(this.o.now()), action, fault, network: this.cluster.describeNetwork(), nodes };
    if (detail) ev.detail = detail;
    this.events.push(ev);
    process.stdout.write(`[nemesis] t=${(ev.atMs / 1000).toFixed(1)}s ${action} ${fault} | ${nodes}\n`);
  }
}
